#!/usr/bin/env bash
# Downtime of a 4-validator upgrade on the local testnet (scripts/testnet.sh), at-height against
# rolling: per validator, the time from its old node's exit to its new node's start; for the
# chain, the time more than n - q validators were down at once, and the blocks a chain of the
# testnet's block time would not have produced over it. The baseline is the at-height run of the
# same invocation. Each mode runs REPS times (default 3), a fresh testnet each.
# Prints one JSON object per run. run.sh calls it, then renders the section with --report:
#   WEMIXVISOR=... WVCOORD=... FAKENODE=... tests/bench/testnet_downtime.sh | tests/bench/testnet_downtime.sh --report
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${1:-}" = --report ]; then
  in=$(jq -sc '.')
  f() { jq -r "$1" <<<"$in"; }
  # per mode: medians over the runs of each figure
  agg() {
    jq -c --arg m "$1" '[.[] | select(.mode == $m)] as $r
      | def med(f): ($r | map(f) | sort) as $s | if ($s | length) == 0 then null else $s[(($s | length) - 1) / 2 | floor] end;
      {mode: $m, runs: ($r | length), node_median: med(.node_ms | sort | .[1:3] | add / 2),
       node_max: med(.node_ms | max), node_sum: med(.node_ms | add), chain: med(.chain_ms),
       blocks: med(.blocks_lost), most_down: med(.most_down), run_s: med(.run_s)}' <<<"$in"
  }
  base=$(agg at-height)
  ratio() { jq -rn --argjson a "$1" --argjson b "$2" 'if $b == null or $a == null then "-" elif $b == 0 then (if $a == 0 then "1" else "-" end) else ($a / $b * 1000 | round) / 1000 | tostring end'; }
  echo "## Testnet upgrade downtime: at-height vs rolling"
  echo
  echo "\`scripts/testnet.sh --no-wait\` with the Release binaries: 4 validators on this machine (fake"
  echo "nodes, a block every $(f '.[0].block_ms // 300') ms, each under its \`wemixvisor run\`, gossiping over CURVE), the upgrade"
  echo "v2 scheduled on every agent and its binary downloaded from a local HTTP server. A validator's"
  echo "downtime is its old node's exit to its new node's start (from the fake nodes' events); the"
  echo "chain is down while more than n - q = 1 validators are down at once, and a real WBFT chain"
  echo "produces no block then: blocks not produced = chain downtime / block time (whole blocks). The"
  echo "fake nodes, independent of each other, cannot show the chain's stall in their heights. Baseline:"
  echo "\`--scenario at-height\` (all four switch at the height) in the same run; the other is"
  echo "\`--scenario rolling\` (one restart slot at a time, before the height). Measured by"
  echo "\`tests/bench/testnet_downtime.sh\`; $(f '[.[] | select(.mode == "at-height")] | length') run(s) per mode, medians shown."
  echo
  echo "| mode | per validator (median) | per validator (max) | all validators (sum) | most down at once | chain downtime | blocks not produced | per validator (median) vs at-height | sum vs at-height | chain downtime vs at-height |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for m in at-height rolling; do
    a=$(agg "$m")
    g() { jq -r "$1" <<<"$a"; }
    [ "$(g .runs)" -gt 0 ] || { echo "| $m | (no run: see the bench's stderr) | | | | | | | | |"; continue; }
    printf '| %s | %.0f ms | %.0f ms | %.0f ms | %s | %.0f ms | %s | %s | %s | %s |\n' "$m" "$(g .node_median)" \
      "$(g .node_max)" "$(g .node_sum)" "$(g .most_down)" "$(g .chain)" "$(g .blocks)" \
      "$(ratio "$(g .node_median)" "$(jq .node_median <<<"$base")")" \
      "$(ratio "$(g .node_sum)" "$(jq .node_sum <<<"$base")")" "$(ratio "$(g .chain)" "$(jq .chain <<<"$base")")"
  done
  echo
  echo "Per run (milliseconds down, a1-a4; \`-\` in a ratio: the baseline is 0):"
  echo
  echo "| mode | a1 | a2 | a3 | a4 | chain | testnet run time | load average (1 min) after |"
  echo "|---|---|---|---|---|---|---|---|"
  jq -r '.[] | "| \(.mode) | \(.node_ms | map(tostring) | join(" | ")) | \(.chain_ms) | \(.run_s) s | \(.load1 // "-") |"' <<<"$in"
  exit 0
fi

: "${WEMIXVISOR:?path to wemixvisor}" "${WVCOORD:?path to wvcoord}" "${FAKENODE:?path to fakenode}"
export WEMIXVISOR WVCOORD FAKENODE
REPS=${REPS:-3}
out=$(mktemp /tmp/wv-bench-testnet.XXXXXX)
trap 'rm -f "$out"' EXIT

# one_run MODE: a fresh testnet of MODE; its summary into one JSON object.
one_run() {
  local mode=$1 rc=0
  "$top/scripts/testnet.sh" --no-wait --scenario "$mode" >"$out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] || ! grep -q "^result: OK ($mode): " "$out"; then
    { echo "bench: testnet.sh --scenario $mode exited $rc:"; tail -n 30 "$out"; } >&2
    return 1
  fi
  # "downtime ms: a1 112, a2 208, a3 210, a4 131, chain 129, most down at once 2"
  local line blocks block_ms run_s
  line=$(grep '^downtime ms: ' "$out") || { echo "bench: $mode: no 'downtime ms:' line" >&2; return 1; }
  blocks=$(sed -nE 's/^blocks not produced \(chain downtime \/ ([0-9]+) ms block time\): ([0-9]+)$/\2/p' "$out")
  block_ms=$(sed -nE 's/^blocks not produced \(chain downtime \/ ([0-9]+) ms block time\): ([0-9]+)$/\1/p' "$out")
  run_s=$(sed -nE 's/^run time: ([0-9.]+)s$/\1/p' "$out")
  load1=$(cut -d' ' -f1 /proc/loadavg)
  sed -E 's/^downtime ms: //' <<<"$line" | tr ',' '\n' | sed 's/^ *//' |
    jq -Rsc --arg mode "$mode" --argjson blocks "$blocks" --argjson block_ms "$block_ms" --argjson run_s "$run_s" --argjson load1 "$load1" '
      split("\n") | map(select(length > 0)) as $l
      | {mode: $mode, node_ms: [$l[] | select(test("^a[0-9]+ ")) | split(" ")[1] | tonumber],
         chain_ms: ([$l[] | select(startswith("chain ")) | split(" ")[1] | tonumber][0]),
         most_down: ([$l[] | select(startswith("most down at once ")) | split(" ")[4] | tonumber][0]),
         blocks_lost: $blocks, block_ms: $block_ms, run_s: $run_s, load1: $load1}'
}
for ((r = 1; r <= REPS; r++)); do
  for mode in at-height rolling; do
    echo "bench: testnet $mode (run $r/$REPS)" >&2
    one_run "$mode"
  done
done
