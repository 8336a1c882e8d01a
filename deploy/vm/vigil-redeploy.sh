#!/bin/sh
# Installs the release in /opt/vigil/release into /opt/vigil/app (production dependencies
# only) and restarts Vigil. Installed on the VM as /opt/vigil/bin/vigil-redeploy by deploy.sh.
#
#   vigil-redeploy                 reinstall unconditionally: the watchdog's last resort when a
#                                  restart did not heal the server (a damaged node_modules, a
#                                  half-written app folder)
#   vigil-redeploy --if-changed    only when the release differs from what is installed: what
#                                  deploy.sh runs, so a second deploy changes nothing
# Prints "changed" or "unchanged" on its last line.
set -eu

release=${VIGIL_RELEASE_DIR:-/opt/vigil/release}
app=${VIGIL_APP_DIR:-/opt/vigil/app}
stamp="$app/.release-sha256"
PATH="/opt/vigil/node/bin:$PATH"   # a Node.js tarball installed by deploy.sh comes first
export PATH

[ -f "$release/package.json" ] || { echo "vigil-redeploy: no release in $release" >&2; exit 1; }

# One hash over every file of the release (names and contents), in a stable order.
hash=$(cd "$release" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)

if [ "${1:-}" = "--if-changed" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] && [ -d "$app/node_modules" ]; then
  echo "vigil-redeploy: release ${hash%"${hash#????????????}"} already installed"
  echo unchanged
  exit 0
fi

mkdir -p "$app"
# The app folder mirrors the release; node_modules is rebuilt by npm ci below.
rsync -rlt --delete --exclude /node_modules --exclude /.release-sha256 "$release/" "$app/"
cd "$app"
npm ci --omit=dev --no-audit --no-fund
printf '%s\n' "$hash" > "$stamp"
systemctl restart vigil.service
echo "vigil-redeploy: installed release ${hash%"${hash#????????????}"} and restarted vigil"
echo changed
