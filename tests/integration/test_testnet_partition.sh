#!/usr/bin/env bash
# scripts/testnet.sh --scenario partition: every validator in its own network namespace, with its
# own address, on a bridge; a4's link is cut before the upgrade is scheduled. a1-a3 (a quorum of
# 3) arm and switch at the height; a4 is blocked (1/4 ready, need 3) and runs v1.0.0 on past the
# height while cut off; once its link is healed it hears the others' votes and catches up to
# v2.0.0. Exits 0, leaves no process, file, namespace or link behind. Skips (77) without root,
# iproute2 or the permission to make network namespaces.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_testnet.sh"

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
probe="wv-tnprobe-$$"
if ! err=$(ip netns add "$probe" 2>&1); then
  skip "ip netns add is not permitted here: $err"
fi
ip netns del "$probe"

run_testnet partition
out=$T/partition.out
H=$(upgrade_height partition)
[ -n "$H" ] || fail "partition: no upgrade height in the summary"
summary_has partition '^\[.*\] network: 4 namespaces wvtn[0-9]+-1…4 on bridge wvtb[0-9]+ \(10\.[0-9]+\.[0-9]+\.0/24'
summary_has partition "^== partition: a4's link to the bridge is down"
# each agent gossips on its own address
for i in 1 2 3 4; do
  summary_has partition "^\[.*\] a$i: agent key [0-9a-f]{8}, node RPC 127\.0\.0\.1:[0-9]+, gossip tcp://10\.[0-9]+\.[0-9]+\.$i:[0-9]+ "
done
# a1-a3 switched at the height, while a4 was cut off
for i in 1 2 3; do stopped_in_time partition "$i" "$H"; done
# a4 was blocked, ran v1.0.0 past the height, then caught up after the heal
summary_has partition '^partition: a4 cut off at height [0-9]+; blocked while cut off: blocked: 1/4 ready, need 3; healed at height [0-9]+; v2\.0\.0 started [0-9.]+ s after the heal'
heal=$(sed -nE 's/^partition: .* healed at height ([0-9]+);.*/\1/p' "$out")
[ "$heal" -ge $((H + 5)) ] || fail "partition: a4 was healed at $heal, not past the height $H"
line=$(node_line partition 4) || fail "partition: no summary line for a4"
[[ "$line" =~ v1\.0\.0\ @\ [0-9]+\ +v2\.0\.0\ @\ [0-9]+\ +at\ ([0-9]+)\  ]] || fail "partition: a4: $line"
[ "${BASH_REMATCH[1]}" -ge "$heal" ] || fail "partition: a4 switched at ${BASH_REMATCH[1]}, before it was healed at $heal: $line"
summary_has partition '^wvcoord: all nodes running, no upgrade blocked$'
summary_has partition '^chain downtime \(more than 1 validator\(s\) down at once\): [0-9]+\.[0-9]{2} s$'
# nothing of the network is left
ns=$(sed -nE 's/.*network: 4 namespaces (wvtn[0-9]+)-1.*bridge (wvtb[0-9]+) .*/\1 \2/p' "$out")
read -r nsp br <<<"$ns"
! ip netns list | grep -q "^$nsp-" || fail "partition: namespaces left behind: $(ip netns list | grep "^$nsp-")"
! ip link show "$br" >/dev/null 2>&1 || fail "partition: bridge $br left behind"
pass
