#!/usr/bin/env bash
# Runs on the VM: the vigil system user and the folders, created only when missing.
set -eu
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
changed=""
if ! id vigil > /dev/null 2>&1; then
  $SUDO useradd --system --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil; changed="$changed user"
fi
for d in /opt/vigil /opt/vigil/bin /opt/vigil/release /opt/vigil/app; do
  [ -d "$d" ] || { $SUDO install -d -m 0755 -o root -g root "$d"; changed="$changed $d"; }
done
[ -d /etc/vigil ] || { $SUDO install -d -m 0700 -o root -g root /etc/vigil; changed="$changed /etc/vigil"; }
echo "${changed:-unchanged}"
