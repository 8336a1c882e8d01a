#!/usr/bin/env bash
# Builds the Vigil image and checks it on a machine with a Docker engine:
#   it starts, /ready answers 200, one prediction gives the expected label, the healthcheck
#   reports healthy, the server runs as a non-root user, SIGTERM stops it cleanly, and the
#   image is smaller than the limit.
# usage: deploy/docker/test-image.sh [image-tag]     (from anywhere; builds from the repo root)
# env:   VIGIL_IMAGE_MAX_MB (default 300), VIGIL_TEST_PORT (default 18000), DOCKER (default docker)
set -Eeuo pipefail

tag=${1:-vigil:test}
max_mb=${VIGIL_IMAGE_MAX_MB:-300}
port=${VIGIL_TEST_PORT:-18000}
docker=${DOCKER:-docker}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
name="vigil-test-$$"

log() { printf '%s test-image: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
  if [ -n "${started:-}" ]; then
    "$docker" logs "$name" > "${TMPDIR:-/tmp}/$name.log" 2>&1 || true
    "$docker" rm -f "$name" > /dev/null 2>&1 || true
    log "container logs kept in ${TMPDIR:-/tmp}/$name.log"
  fi
}
trap cleanup EXIT

"$docker" info > /dev/null 2>&1 || { log "no Docker engine reachable: cannot test the image here"; exit 2; }

log "building $tag"
"$docker" build -f "$root/deploy/docker/Dockerfile" -t "$tag" "$root"

bytes=$("$docker" image inspect -f '{{.Size}}' "$tag")
mb=$((bytes / 1000 / 1000))
log "image size: ${mb} MB (${bytes} bytes; limit ${max_mb} MB)"
[ "$mb" -lt "$max_mb" ] || fail "image is ${mb} MB, over the ${max_mb} MB limit"

log "starting $name on 127.0.0.1:$port"
"$docker" run -d --name "$name" -p "127.0.0.1:$port:8000" "$tag" > /dev/null
started=1

ready=""
for _ in $(seq 1 90); do
  if curl -fsS "http://127.0.0.1:$port/ready" > /dev/null 2>&1; then ready=1; break; fi
  [ "$("$docker" inspect -f '{{.State.Running}}' "$name")" = true ] || fail "container exited: $("$docker" logs --tail 20 "$name" 2>&1)"
  sleep 1
done
[ -n "$ready" ] || fail "/ready did not answer 200 within 90 s"
log "/ready is 200"

answer=$(curl -fsS "http://127.0.0.1:$port/v1/models/sentiment/predict" \
  -H 'content-type: application/json' -d '{"text": "I am so happy today!"}')
case "$answer" in
  *'"label":"POSITIVE"'*) log "prediction: POSITIVE as expected" ;;
  *) fail "unexpected prediction: $answer" ;;
esac

uid=$("$docker" exec "$name" id -u)
[ "$uid" != 0 ] || fail "the server runs as root"
log "runs as uid $uid"

"$docker" exec "$name" node deploy/docker/healthcheck.mjs || fail "healthcheck script says unhealthy"
for _ in $(seq 1 60); do
  health=$("$docker" inspect -f '{{.State.Health.Status}}' "$name")
  [ "$health" = healthy ] && break
  sleep 1
done
[ "$health" = healthy ] || fail "Docker reports health '$health'"
log "Docker health: healthy"

# If vigil smoke is built locally, run the full smoke test against the container too.
if [ -f "$root/dist/cli/main.js" ]; then
  node "$root/dist/cli/main.js" smoke "http://127.0.0.1:$port" || fail "vigil smoke failed against the container"
fi

# SIGTERM through tini must reach node: a clean drain ends with exit code 0.
"$docker" stop -t 30 "$name" > /dev/null
code=$("$docker" inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "exit code after docker stop is $code, expected 0 (signal not forwarded?)"
log "stopped cleanly on SIGTERM"

log "PASS: $tag (${mb} MB)"
