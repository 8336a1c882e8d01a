#!/usr/bin/env bash
# Runs on the VM: node-tarball.sh SHA256 < node-vX-linux-x64.tar.xz. Checks the tarball arriving
# on standard input against SHA256 (deploy.sh checked the file against the published
# SHASUMS256.txt; this checks the bytes that arrived), unpacks it into /opt/vigil/node and links
# /usr/bin/node to it when nothing is there. Fails when an older /usr/bin/node stays in the way:
# the units run /usr/bin/node, and a silent old version is worse than a clear error.
set -eu
expected=${1:?usage: node-tarball.sh SHA256 < tarball}
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
# Overridable so that the tests can run this script in a scratch tree.
base=${VIGIL_REMOTE_BASE:-/opt/vigil}
link=${VIGIL_NODE_LINK:-/usr/bin/node}
tarball="$base/node.tar.xz"
$SUDO rm -rf "$base/node.new" "$tarball"
$SUDO mkdir -p "$base/node.new"
# shellcheck disable=SC2016 # $1 is expanded by the inner shell, on purpose
$SUDO sh -c 'umask 077; cat > "$1"' sh "$tarball"
actual=$($SUDO sha256sum "$tarball" | awk '{print $1}')
if [ "$actual" != "$expected" ]; then
  $SUDO rm -rf "$base/node.new" "$tarball"
  echo "node-tarball.sh: the tarball that arrived has SHA-256 $actual, expected $expected: not installed" >&2
  exit 1
fi
$SUDO tar -xJf "$tarball" -C "$base/node.new" --strip-components=1
$SUDO rm -f "$tarball"
$SUDO rm -rf "$base/node"
$SUDO mv "$base/node.new" "$base/node"
[ -e "$link" ] || $SUDO ln -s "$base/node/bin/node" "$link"
if ! "$link" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  echo "node-tarball.sh: $link is $("$link" --version), older than 22: remove the distribution's nodejs and run deploy.sh again" >&2
  exit 1
fi
"$link" --version
