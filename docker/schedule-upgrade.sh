#!/usr/bin/env bash
# schedule-upgrade.sh [NAME [BLOCKS_AHEAD]]: schedules upgrade NAME (default v2.0.0) on every
# validator of the Docker testnet, at one height BLOCKS_AHEAD (default 40) blocks past the highest
# node, with the binary downloaded from the `files` service (URL with its ?checksum=sha256:).
# Then watch it: `docker compose -f docker/docker-compose.yml logs -f`, http://127.0.0.1:8080, or
# `docker compose -f docker/docker-compose.yml exec validator1 wemixvisor peers`.
# COMPOSE overrides the compose command (default: docker compose -f <this dir>/docker-compose.yml).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:-v2.0.0}
ahead=${2:-40}
if ! [[ $ahead =~ ^[0-9]+$ ]] || [ "$ahead" -lt 3 ]; then
  echo "BLOCKS_AHEAD must be a number >= 3" >&2
  exit 2
fi
read -r -a compose <<<"${COMPOSE:-docker compose -f $here/docker-compose.yml}"

mapfile -t validators < <("${compose[@]}" config --services | grep '^validator' | sort)
[ ${#validators[@]} -gt 0 ] || { echo "no validator services in the compose file" >&2; exit 1; }

# one height for all: the votes count together only for the same (name, height, sha256)
top=0
for v in "${validators[@]}"; do
  h=$("${compose[@]}" exec -T "$v" docker-entrypoint height) || { echo "$v: no height (is it up?)" >&2; exit 1; }
  h=${h//[^0-9]/}
  [ "$h" -gt "$top" ] && top=$h
done
height=$((top + ahead))
url=$("${compose[@]}" exec -T "${validators[0]}" docker-entrypoint upgrade-url "$name")
url=${url//$'\r'/}
echo "scheduling $name at height $height (nodes at <= $top) from $url"
for v in "${validators[@]}"; do
  "${compose[@]}" exec -T "$v" wemixvisor upgrade schedule "$name" --height "$height" --url "$url"
done
echo "scheduled on ${validators[*]}; the agents download it now, vote, and switch at $((height - 1))"
