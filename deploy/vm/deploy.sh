#!/usr/bin/env bash
# Deploys Vigil to a Debian/Ubuntu VM over SSH, as a hardened systemd service with the watchdog
# timer, and verifies it with `vigil smoke`. Idempotent: every step checks before it acts, so a
# second run with the same tree and the same variables changes nothing (and says so).
#
#   deploy/vm/deploy.sh [options] USER@HOST
#
# options:
#   --key FILE            your SSH private key (default ~/.ssh/id_ed25519); FILE.pub is installed
#   --bootstrap-key FILE  the shared key the VM was handed out with: used once to install your
#                         key, after which its line is removed from authorized_keys
#   --port N              SSH port (default 22)
#   --node-tarball FILE   a node-v24.x-linux-x64.tar.xz (Node 24 LTS) you downloaded yourself; used
#                         only when the distribution's nodejs is older than 22 (Debian 12 ships 18,
#                         Debian 13 ships 20). Nothing is ever downloaded from a place you did not choose.
#   --node-sha256 HEX     the tarball's SHA-256 (default: its line in the SHASUMS256.txt beside it,
#                         as nodejs.org publishes it). Checked here before anything is sent, and
#                         again on the VM over the bytes that arrived; a mismatch stops the deploy.
#   --env VAR             also copy this local environment variable into the env file (repeatable)
#   --ssh-option OPT      extra ssh -o option, e.g. ProxyJump=bastion (repeatable)
#   --skip-build          use the local dist/ and ui/dist/ as they are (default: npm run build first)
#   --dry-run             print the plan and exit, without connecting
#
# Secrets: HF_TOKEN, VIGIL_ADMIN_TOKEN (and LOG_LEVEL, VIGIL_THREADS, VIGIL_MODELS,
# VIGIL_DEFAULT_MODEL, plus any --env VAR) are taken from YOUR environment when set, and written
# to /etc/vigil/vigil.env (root, 0600) through ssh's standard input: never echoed, never on a
# command line (ps), never in a file on this machine. When none is set, the VM's file is kept.
#
# The SSH user needs passwordless sudo (or be root). The VM needs nothing but sshd and apt.
set -Eeuo pipefail

readonly REMOTE_BASE=/opt/vigil
readonly ENV_FILE=/etc/vigil/vigil.env
readonly URL=http://127.0.0.1:8000
readonly UNITS=(vigil.service vigil-watchdog.service vigil-watchdog.timer)
ENV_VARS=(HF_TOKEN VIGIL_ADMIN_TOKEN LOG_LEVEL VIGIL_THREADS VIGIL_MODELS VIGIL_DEFAULT_MODEL)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
key="$HOME/.ssh/id_ed25519"
bootstrap_key=""
port=22
node_tarball=""
node_sha256=""
skip_build=""
dry_run=""
target=""
extra_ssh=()

die() { printf 'deploy: %s\n' "$*" >&2; exit 2; }
say() { printf '%s deploy: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --key) key=${2:?--key needs a file}; shift 2 ;;
    --bootstrap-key) bootstrap_key=${2:?--bootstrap-key needs a file}; shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --node-tarball) node_tarball=${2:?--node-tarball needs a file}; shift 2 ;;
    --node-sha256) node_sha256=${2:?--node-sha256 needs a hex digest}; shift 2 ;;
    --env) ENV_VARS+=("${2:?--env needs a variable name}"); shift 2 ;;
    --ssh-option) extra_ssh+=(-o "${2:?--ssh-option needs KEY=VALUE}"); shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$target" ] || die "one target only"; target=$1; shift ;;
  esac
done
[ -n "$target" ] || die "usage: deploy.sh [options] USER@HOST (see --help)"
[[ "$port" =~ ^[0-9]+$ ]] || die "--port must be a number"
for var in "${ENV_VARS[@]}"; do [[ "$var" =~ ^[A-Z_][A-Z0-9_]*$ ]] || die "--env $var: not a variable name"; done

# The Node.js tarball is checked against its published SHA-256 before it goes anywhere.
if [ -n "$node_tarball" ]; then
  [ -f "$node_tarball" ] || die "--node-tarball $node_tarball: no such file"
  if [ -z "$node_sha256" ]; then
    sums="$(dirname "$node_tarball")/SHASUMS256.txt"
    [ -f "$sums" ] || die "--node-tarball: no SHASUMS256.txt beside $node_tarball; download it from the same release folder or pass --node-sha256 HEX"
    node_sha256=$(awk -v f="$(basename "$node_tarball")" '$2 == f || $2 == "*" f {print $1}' "$sums")
    [ -n "$node_sha256" ] || die "--node-tarball: $(basename "$node_tarball") is not listed in $sums"
  fi
  [[ "$node_sha256" =~ ^[0-9a-fA-F]{64}$ ]] || die "--node-sha256 must be 64 hex digits"
  actual=$(sha256sum "$node_tarball" | awk '{print $1}')
  [ "$actual" = "${node_sha256,,}" ] || die "--node-tarball $node_tarball: SHA-256 is $actual, expected $node_sha256: not the file that was published"
fi

# Names of the listed variables that are set here (values are never printed). Checked before
# anything is sent, so a bad value can never leave a half-written env file on the VM.
set_vars=()
for var in "${ENV_VARS[@]}"; do
  [ -n "${!var+x}" ] || continue
  # systemd would reinterpret quotes and backslashes, and a newline would end the value.
  case "${!var}" in *$'\n'*|*\"*|*\'*|*\\*) die "$var holds a newline, quote or backslash: not written" ;; esac
  set_vars+=("$var")
done

# ---- the plan --------------------------------------------------------------------------------------
plan() {
  if [ -n "$bootstrap_key" ]; then
    echo "PLAN keys: log in with the bootstrap key $bootstrap_key, install $key.pub, then remove the bootstrap key from authorized_keys"
  else
    echo "PLAN keys: skip (no --bootstrap-key; $key must already be authorized)"
  fi
  echo "PLAN packages: ensure rsync, make, g++, python3; Node.js >= 22 from the distribution${node_tarball:+, else from $node_tarball (SHA-256 ${node_sha256,,} checked)}"
  echo "PLAN user: ensure system user vigil, $REMOTE_BASE/{bin,release,app}, /etc/vigil (0700)"
  if [ -n "$skip_build" ]; then echo "PLAN build: skip (--skip-build)"; else echo "PLAN build: npm run build (on this machine)"; fi
  echo "PLAN release: rsync the files deploy/vm/release.filter names (package files, dist/, ui/dist/, models/, deploy/systemd/, deploy/vm/) to $target:$REMOTE_BASE/release"
  if [ ${#set_vars[@]} -gt 0 ]; then
    echo "PLAN env: write $ENV_FILE (root, 0600) with ${set_vars[*]} (values not shown), through ssh stdin"
  else
    echo "PLAN env: keep $ENV_FILE as it is (none of ${ENV_VARS[*]} is set here); create it empty if missing"
  fi
  echo "PLAN units: install ${UNITS[*]} into /etc/systemd/system when they differ; enable vigil.service and vigil-watchdog.timer"
  echo "PLAN app: vigil-redeploy --if-changed (npm ci --omit=dev and restart only when the release changed)"
  echo "PLAN restart: restart vigil.service when the env file or a unit changed, start it when it is not active"
  echo "PLAN verify: vigil smoke --wait 120s $URL on the VM"
}

if [ -n "$dry_run" ]; then
  plan
  exit 0
fi

if [ ! -f "$key" ] || [ ! -f "$key.pub" ]; then die "need $key and $key.pub (or --key FILE)"; fi
command -v rsync > /dev/null || die "rsync is needed on this machine"

ssh_opts=(-p "$port" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=15 "${extra_ssh[@]}")
# Runs a command line on the VM (its login shell parses it; never put a secret in it).
vm() { ssh "${ssh_opts[@]}" -i "$key" "$target" "$@"; }
# Runs one of deploy/vm/remote/*.sh on the VM, sent over stdin; extra words are its arguments.
vm_script() {
  local file="$root/deploy/vm/remote/$1"
  shift
  ssh "${ssh_opts[@]}" -i "$key" "$target" bash -s -- "$@" < "$file"
}
# The same, for scripts that read data on stdin (a secret, a tarball): the script itself, which
# is not secret, travels base64-encoded in the command line instead.
vm_script_stdin() {
  local name=$1 script64
  shift
  script64=$(base64 < "$root/deploy/vm/remote/$name" | tr -d '\n')
  ssh "${ssh_opts[@]}" -i "$key" "$target" "bash -c \"\$(printf %s $script64 | base64 -d)\" $name $*"
}

plan | sed 's/^/  /'

# ---- 1. keys -----------------------------------------------------------------------------------------
if [ -n "$bootstrap_key" ]; then
  if ssh "${ssh_opts[@]}" -i "$key" "$target" true 2> /dev/null; then
    say "keys: your key already works"
  else
    say "keys: installing $key.pub with the bootstrap key"
    # The public key travels on stdin; the remote side appends it once.
    ssh "${ssh_opts[@]}" -i "$bootstrap_key" "$target" \
      'umask 077; mkdir -p ~/.ssh; touch ~/.ssh/authorized_keys; k=$(cat); grep -qxF "$k" ~/.ssh/authorized_keys || printf "%s\n" "$k" >> ~/.ssh/authorized_keys' \
      < "$key.pub"
    ssh "${ssh_opts[@]}" -i "$key" "$target" true || die "your key still does not work after installing it"
  fi
  blob=$(ssh-keygen -y -f "$bootstrap_key" | awk '{print $2}')
  removed=$(printf '%s\n' "$blob" | ssh "${ssh_opts[@]}" -i "$key" "$target" \
    'b=$(cat); f=~/.ssh/authorized_keys; if grep -qF "$b" "$f"; then grep -vF "$b" "$f" > "$f.new"; chmod 600 "$f.new"; mv "$f.new" "$f"; echo removed; else echo absent; fi')
  say "keys: bootstrap key $removed"
fi

# ---- 2. packages and Node.js -------------------------------------------------------------------------
out=$(vm_script packages.sh)
say "packages: $(printf '%s' "$out" | tr '\n' ' ')"
if printf '%s' "$out" | grep -q '^node:tarball'; then
  [ -n "$node_tarball" ] || die "the VM's distribution has no Node.js >= 22: pass --node-tarball node-v24.x-linux-x64.tar.xz (with its SHASUMS256.txt beside it)"
  say "node: installing $(basename "$node_tarball") into $REMOTE_BASE/node"
  # The tarball goes over ssh stdin; the VM downloads nothing and checks the digest of what arrived.
  vm_script_stdin node-tarball.sh "${node_sha256,,}" < "$node_tarball" || die "installing Node.js from $node_tarball failed (see above)"
fi

# ---- 3. user and folders -------------------------------------------------------------------------------
say "user: $(vm_script user.sh)"

# ---- 4. build -----------------------------------------------------------------------------------------
if [ -z "$skip_build" ]; then
  say "build: npm run build"
  (cd "$root" && npm run build --silent)
fi
for need in dist/cli/main.js ui/dist/index.html models; do
  [ -e "$root/$need" ] || die "$need is missing: run npm run build"
done

# ---- 5. release ---------------------------------------------------------------------------------------
remote_sudo=sudo
[ "$(vm id -u)" != 0 ] || remote_sudo=""
changes=$(rsync -rlt --checksum --delete --delete-excluded --itemize-changes \
  --chmod=Du=rwx,Dgo=rx,Fu=rw,Fgo=r \
  -e "ssh $(printf '%q ' "${ssh_opts[@]}" -i "$key")" --rsync-path="${remote_sudo:+sudo }rsync" \
  --filter="merge $root/deploy/vm/release.filter" \
  "$root/" "$target:$REMOTE_BASE/release/")
if [ -n "$changes" ]; then say "release: $(printf '%s\n' "$changes" | wc -l) paths updated"; else say "release: unchanged"; fi

# ---- 6. env file (secrets over stdin) ------------------------------------------------------------------
render_env() {
  local var value
  printf '# Written by deploy/vm/deploy.sh. Root only (0600). One VAR=value per line.\n'
  for var in "${set_vars[@]}"; do
    value=${!var}
    printf '%s=%s\n' "$var" "$value"
  done
}
if [ ${#set_vars[@]} -gt 0 ]; then
  env_state=$(render_env | vm_script_stdin env-file.sh write)
else
  env_state=$(vm_script env-file.sh keep)
fi
say "env: $ENV_FILE $env_state"

# ---- 7. units and the redeploy helper ------------------------------------------------------------------
units_state=$(vm_script units.sh)
say "units: $units_state"

# ---- 8. app install, restart ---------------------------------------------------------------------------
app_state=$(vm_script service.sh redeploy-if-changed | tail -n 1)
say "app: $app_state"
restart_needed=""
[ "$env_state" = changed ] && restart_needed=1
[[ "$units_state" == *vigil.service* ]] && restart_needed=1
[ "$app_state" = changed ] && restart_needed=""   # vigil-redeploy has just restarted it
if [ -n "$restart_needed" ]; then
  say "restart: vigil.service $(vm_script service.sh restart)"
else
  say "restart: vigil.service $(vm_script service.sh ensure-running)"
fi

# ---- 9. verify ----------------------------------------------------------------------------------------
if vm "/usr/bin/node $REMOTE_BASE/app/dist/cli/main.js smoke --wait 120s $URL"; then
  say "verify: vigil smoke passed on $target"
else
  say "verify: vigil smoke FAILED on $target (journalctl -u vigil.service on the VM)"
  exit 1
fi
