#!/usr/bin/env bash
# Runs on the VM (bash -s, sent by deploy.sh): installs what is missing of rsync, make, g++,
# python3 and - when the distribution has >= 22 - Node.js. Prints "node:present|distro|tarball".
set -eu
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
need=()
for p in rsync make g++ python3; do command -v "$p" > /dev/null || need+=("$p"); done
node_ok() { "$1" -e "process.exit(Number(process.versions.node.split(\".\")[0]) >= 22 ? 0 : 1)" 2> /dev/null; }
node_from=""
if node_ok /usr/bin/node; then node_from=present
else
  $SUDO apt-get update -qq
  candidate=$(apt-cache policy nodejs | awk "/Candidate:/ {print \$2}")
  major=${candidate%%.*}; major=${major#*:}
  case "$major" in (""|*[!0-9]*) major=0 ;; esac
  if [ "$major" -ge 22 ]; then need+=(nodejs npm); node_from=distro; else node_from=tarball; fi
fi
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null
  echo "installed: ${need[*]}"
fi
echo "node:$node_from"
