#!/usr/bin/env bash
# Renders the "Gossip and quorum" section of docs/benchmarks.md from the output of
# tests/bench/gossip_quorum.sh (one JSON object per fleet size) on stdin. run.sh calls it; alone:
#   WEMIXVISOR=... FAKENODE=... tests/bench/gossip_quorum.sh | tests/bench/gossip_report.sh
set -euo pipefail
in=$(jq -sc '.')
f() { jq -r "$1" <<<"$in"; }
r3() { jq -rn --argjson a "$1" '($a * 1000 | round) / 1000'; }
hb=$(f '.[0].heartbeat_ms')
block=$(f '.[0].block_ms')
hb_text=$([ $((hb % 1000)) -eq 0 ] && echo "$((hb / 1000))s" || echo "${hb}ms")
base_cpu=$(f '[.[] | select(.meshed and .agent_cpu_percent != null)][0] | .agent_cpu_percent // empty')
base_n=$(f '[.[] | select(.meshed and .agent_cpu_percent != null)][0] | .n // empty')

echo "## Gossip and quorum"
echo
echo "N validator agents on loopback, each \`wemixvisor run\` with its own home and a fake node (a"
echo "block every $block ms), in a full mesh (\`WEMIXVISOR_PEERS\` = all the others), every key in"
echo "\`WEMIXVISOR_VALIDATORS\`, \`VALIDATOR_MODE=true\`, \`WEMIXVISOR_HEARTBEAT=$hb_text\`, other settings"
echo "default; all on this machine's cores. Measured by \`tests/bench/gossip_quorum.sh\` (one JSON object"
echo "per fleet size, rendered by \`tests/bench/gossip_report.sh\`); alone:"
echo "\`WEMIXVISOR=build-bench/agent/wemixvisor FAKENODE=build-bench/tests/fixtures/fakenode"
echo "tests/bench/gossip_quorum.sh | tests/bench/gossip_report.sh\`."
echo
echo "### Arming"
echo
echo "An upgrade is scheduled far ahead on every agent with its binary missing; once every agent hears"
echo "all the others live, the identical binary is installed on every agent (one rename each, all from"
echo "one process). From the agents' logs: T_q, the q-th earliest \`step=ready\` (q = N - floor((N-1)/3)),"
echo "to the last agent's \`armed\`, as a multiple of the heartbeat (the baseline). A fresh fleet per"
echo "round. An agent looks for the binary every \`DAEMON_POLL_INTERVAL\` (300 ms), so the ready times"
echo "spread; the last column is the gossip's own share: the longest any agent took to arm once it was"
echo "ready and a quorum was."
echo
echo "| agents | quorum | started | full mesh after | rounds | T_q to last armed (median) | each round | ready times spread | ready and quorum to armed, max |"
echo "|---|---|---|---|---|---|---|---|---|"
jq -c '.[]' <<<"$in" | while read -r m; do
  if [ "$(jq -r .meshed <<<"$m")" = true ]; then
    jq -r '"| \(.n) | \(.quorum) | \(if .n <= 8 then "all at once" else "8 per \(.start_pause_s) s" end) | \(.mesh_s | max) s | \(.rounds) | \(.arm_beats_median) heartbeats | \(.arm_beats | join(", ")) | \(.ready_spread_ms | max) ms | \(.arm_lag_ms | max) ms |"' <<<"$m"
  else
    jq -r '"| \(.n) | \(.quorum) | \(if .n <= 8 then "all at once" else "8 per \(.start_pause_s) s" end) | none (below) | - | not measured | | | |"' <<<"$m"
  fi
done
echo
echo "Started: agents are started eight at a time, this far apart. Full mesh after: from the first"
echo "start until \`peers --json\` showed every agent hearing all the others live (polled, so an upper"
echo "bound). Full mesh, ready times spread and the last column: the largest over the rounds."
echo
echo "### Steady-state traffic and CPU"
echo
echo "Once every agent is armed (each state carries the upgrade), the \`peers --json\` counters of every"
echo "agent twice, about 10 s apart, per agent per second (mean over the agents), and each agent's CPU"
echo "(utime + stime of \`/proc/<pid>/stat\`) over the same window. Baselines in the same run: the ideal"
echo "full mesh, N - 1 messages per heartbeat per agent; for CPU, the ${base_n:-smallest}-agent fleet."
echo
echo "| agents | messages in /s | vs ideal (N-1 per beat) | bytes in /s | bytes per message | sent /s | relayed /s | dropped /s | agent CPU, mean / max | CPU vs ${base_n:-?} agents | agent RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
jq -c '.[]' <<<"$in" | while read -r m; do
  [ "$(jq -r .meshed <<<"$m")" = true ] || continue
  jq -r --argjson base "${base_cpu:-null}" '
    def r($d): (. * pow(10; $d) | round) / pow(10; $d);
    "| \(.n) | \(.messages_in_per_s | r(2)) | \(.messages_in_per_s / .ideal_messages_per_s | r(3)) | \(.bytes_in_per_s | round) B/s | \(.bytes_in_per_s / .messages_in_per_s | round) B | \(.sent_per_s | r(2)) | \(.relayed_per_s | r(2)) | \(.dropped_per_s | r(2)) | \(.agent_cpu_percent | r(3)) % / \(.agent_cpu_max_percent | r(3)) % | \(if $base then (.agent_cpu_percent / $base | r(2)) else "-" end) | \(.agent_rss_mib | r(1)) MiB |"' <<<"$m"
done
echo
echo "CPU is % of one core per agent; messages in counts everything that arrived, accepted or"
echo "dropped; relayed: other agents' states an agent passed on (docs/protocol.md section 7), each to"
echo "all its subscribers."
jq -c '.[] | select(.meshed | not)' <<<"$in" | while read -r m; do
  echo
  jq -r '"**\(.n) agents: no full mesh.** Started eight at a time \(.start_pause_s) s apart, the agents were not all seen"
    + " to hear each other live \(30 + (.n / 2 | floor)) s after the last start, so nothing else was measured at this size."
    + " Over the next \(.window_s // 0 | round) s, on the first \(.sampled) agents (\(.answered) answered `peers --json`), per agent"
    + " per second: \(.messages_in_per_s // 0 | round) messages in (\((.messages_in_per_s // 0) / .ideal_messages_per_s * 100 | round / 100)"
    + " times the ideal \(.ideal_messages_per_s)), \(.received_per_s // 0 | round) of them accepted and \(.dropped_per_s // 0 | round)"
    + " dropped (\(.dropped_old_per_s // 0 | round) as older than a state already held); \((.relayed_per_s // 0) * 100 | round / 100)"
    + " relayed; CPU \(.agent_cpu_percent // 0 | . * 100 | round / 100) % of a core, RSS \(.agent_rss_mib // 0 | round) MiB;"
    + " fewest live peers \(.min_live // 0) of \(.n - 1)."' <<<"$m" | fmt -w 100
done
echo
echo "1-minute load average of the machine just before each fleet started (other work on it):"
echo "$(f '[.[] | "\(.n) agents: \(.load_before)"] | join(", ")')."
