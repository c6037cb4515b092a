#!/usr/bin/env bash
# Installs the Debian packages of scripts/packages.txt that are not installed yet.
#   scripts/install-deps.sh                   the build and test sections (a developer machine, CI)
#   scripts/install-deps.sh --only runtime    only these sections (comma-separated; docker/Dockerfile)
#   scripts/install-deps.sh --list [--only S] print the selected packages, install nothing
# Runs as root (as in a container), or through sudo; does nothing (and needs neither) when all
# are present. Sections are `#@ NAME` lines in packages.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
list="$here/packages.txt"

usage() {
  echo "usage: $0 [--list] [--only SECTION[,SECTION...]]   (sections: $(sections | paste -sd, -))" >&2
  exit 2
}
# sections: every section name in packages.txt, in order.
sections() { sed -n 's/^#@[[:space:]]*\([A-Za-z0-9_-]*\).*/\1/p' "$list"; }
# packages SECTION: the packages of one section (comments, blank lines and spaces dropped).
packages() {
  awk -v want="$1" '
    /^#@/ { sub(/^#@[[:space:]]*/, ""); split($0, w, /[[:space:]]+/); cur = w[1]; next }
    { sub(/#.*/, ""); gsub(/[[:space:]]/, "") }
    $0 != "" && cur == want { print }' "$list"
}

only=build,test
list_only=false
while [ $# -gt 0 ]; do
  case $1 in
    --only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
    --only=*) only=${1#--only=}; shift ;;
    --list) list_only=true; shift ;;
    -h | --help) usage ;;
    *) echo "install-deps: unknown argument: $1" >&2; usage ;;
  esac
done

wanted=()
IFS=, read -r -a selected <<<"$only"
[ ${#selected[@]} -gt 0 ] || usage
for s in "${selected[@]}"; do
  if ! sections | grep -qx -- "$s"; then
    echo "install-deps: no section '$s' in $list (sections: $(sections | paste -sd, -))" >&2
    exit 2
  fi
  mapfile -t -O "${#wanted[@]}" wanted < <(packages "$s")
done
# one of each, in the order of the file
mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | awk 'NF && !seen[$0]++')

if $list_only; then
  printf '%s\n' "${wanted[@]}"
  exit 0
fi

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#wanted[@]} packages ($only) present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "install-deps: installing ($only) ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
