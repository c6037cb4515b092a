#!/usr/bin/env bash
# fake-releases.sh OUT FAKENODE [UPGRADE_NAME]: two "releases" of the fake node, for the testnet.
#   OUT/releases/wemixd-v1.0.0          the genesis binary (`wemixvisor init` takes it)
#   OUT/files/wemixd-<NAME>.tar.gz      the upgrade (bin/wemixd inside), served by the `files`
#                                       service and downloaded by the agents
#   OUT/files/SHA256SUMS                its sha256, for the `?checksum=sha256:` of the URL
# FAKENODE is the fake node's path where the releases will run (in the image:
# /usr/local/bin/fakenode); each release is a two-line script that runs it with its version, as a
# real release is a binary of its version. The tarball is reproducible (sorted, mtime 0, no owner).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT FAKENODE [UPGRADE_NAME]" >&2; exit 2; }
out=$1 fakenode=$2 name=${3:-v2.0.0}

release() { # release PATH VERSION
  mkdir -p "$(dirname "$1")"
  printf '#!/bin/sh\nexec %s --node-version %s "$@"\n' "$fakenode" "$2" >"$1"
  chmod 0755 "$1"
}

release "$out/releases/wemixd-v1.0.0" v1.0.0
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
release "$stage/bin/wemixd" "$name"
mkdir -p "$out/files"
tar -C "$stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - bin |
  gzip -9n >"$out/files/wemixd-$name.tar.gz"
(cd "$out/files" && sha256sum "wemixd-$name.tar.gz" >SHA256SUMS)
echo "fake-releases: $out/releases/wemixd-v1.0.0, $out/files/wemixd-$name.tar.gz ($(cut -c1-16 "$out/files/SHA256SUMS")…)"
