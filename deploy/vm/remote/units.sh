#!/usr/bin/env bash
# Runs on the VM: installs the units and the redeploy helper from the release when they differ,
# enables vigil.service and the watchdog timer. Prints what changed, or "unchanged".
set -eu
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
# The folders can be moved for the test, which runs this script in a scratch tree.
src=${VIGIL_RELEASE_DIR:-/opt/vigil/release}/deploy
units=${VIGIL_UNIT_DIR:-/etc/systemd/system}
bin=${VIGIL_BIN_DIR:-/opt/vigil/bin}
changed=""
for u in vigil.service vigil-watchdog.service vigil-watchdog.timer; do
  if ! cmp -s "$src/systemd/$u" "$units/$u"; then
    $SUDO install -m 0644 "$src/systemd/$u" "$units/$u"; changed="$changed $u"
  fi
done
if ! cmp -s "$src/vm/vigil-redeploy.sh" "$bin/vigil-redeploy"; then
  $SUDO install -m 0755 "$src/vm/vigil-redeploy.sh" "$bin/vigil-redeploy"; changed="$changed vigil-redeploy"
fi
[ -z "$changed" ] || $SUDO systemctl daemon-reload
for u in vigil.service vigil-watchdog.timer; do
  systemctl is-enabled --quiet "$u" 2> /dev/null || { $SUDO systemctl enable --quiet "$u"; changed="$changed enabled:$u"; }
done
systemctl is-active --quiet vigil-watchdog.timer || { $SUDO systemctl start vigil-watchdog.timer; changed="$changed started:timer"; }
echo "${changed:-unchanged}"
