#!/usr/bin/env bash
# Runs on the VM: one action on the installed Vigil service.
#   redeploy-if-changed   vigil-redeploy --if-changed (prints changed|unchanged last)
#   restart               systemctl restart vigil.service
#   ensure-running        start vigil.service unless it is active (prints started|running)
set -eu
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
case "${1:-}" in
  redeploy-if-changed) $SUDO /opt/vigil/bin/vigil-redeploy --if-changed ;;
  restart) $SUDO systemctl restart vigil.service; echo restarted ;;
  ensure-running)
    if systemctl is-active --quiet vigil.service; then echo running; else $SUDO systemctl start vigil.service; echo started; fi ;;
  *) echo "service.sh: unknown action '${1:-}'" >&2; exit 2 ;;
esac
