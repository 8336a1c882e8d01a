#!/usr/bin/env bash
# Runs on the VM: unpacks the Node.js tarball arriving on standard input into /opt/vigil/node and
# links /usr/bin/node to it when nothing is there. Fails when an older /usr/bin/node stays in
# the way: the units run /usr/bin/node, and a silent old version is worse than a clear error.
set -eu
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO rm -rf /opt/vigil/node.new
$SUDO mkdir -p /opt/vigil/node.new
$SUDO tar -xJf - -C /opt/vigil/node.new --strip-components=1
$SUDO rm -rf /opt/vigil/node
$SUDO mv /opt/vigil/node.new /opt/vigil/node
[ -e /usr/bin/node ] || $SUDO ln -s /opt/vigil/node/bin/node /usr/bin/node
if ! /usr/bin/node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "node-tarball.sh: /usr/bin/node is $(/usr/bin/node --version), older than 20: remove the distribution's nodejs and run deploy.sh again" >&2
  exit 1
fi
/usr/bin/node --version
