#!/usr/bin/env bash
# Runs on the VM: installs the env file from standard input ("write") when it differs, or keeps
# the existing one ("keep"). The values arrive on stdin only. Prints unchanged|changed|created.
# VIGIL_ETC_DIR lets the test run it in a scratch folder.
set -eu
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
etc=${VIGIL_ETC_DIR:-/etc/vigil}
f="$etc/vigil.env"
if [ "$1" = keep ]; then
  if $SUDO test -f "$f"; then echo unchanged; else $SUDO install -m 0600 /dev/null "$f"; echo created; fi
  exit 0
fi
tmp=$($SUDO mktemp "$etc/.vigil.env.XXXXXX")
$SUDO sh -c "cat > \"$tmp\""
if $SUDO cmp -s "$tmp" "$f"; then $SUDO rm -f "$tmp"; echo unchanged
else $SUDO chmod 0600 "$tmp"; $SUDO mv "$tmp" "$f"; echo changed; fi
