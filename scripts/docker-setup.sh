#!/usr/bin/env bash
# Docker for the compose backend on a fresh machine, after scripts/setup.sh
# (CI calls it so): installs Debian's docker.io, docker-compose and
# debootstrap when missing, starts dockerd in the background when no engine
# answers (and waits until one does), checks that the project's .venv has the
# Docker SDK for Python (a main dependency), then builds the offline images
# (docker/offline/build.sh; it skips what exists). Idempotent; prints how
# long each part took.
#
# dockerd keeps running after this script: stop it with
#   kill "$(cat /var/run/docker.pid)"
# Env: DOCKER (client, default /usr/bin/docker), WIBER_SKIP_OFFLINE_IMAGES=1.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "docker-setup: $*" >&2; }
t_all=$SECONDS
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

# --- packages ---------------------------------------------------------------
need=()
[ -x /usr/bin/docker ] || need+=(docker.io)
if ! command -v docker-compose >/dev/null 2>&1 && ! /usr/bin/docker compose version >/dev/null 2>&1; then
  need+=(docker-compose)
fi
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  t=$SECONDS
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -q "${need[@]}" >/tmp/wiber-docker-apt.log 2>&1; then
    $SUDO apt-get update -q >>/tmp/wiber-docker-apt.log 2>&1
    $SUDO apt-get install -y -q "${need[@]}" >>/tmp/wiber-docker-apt.log 2>&1 \
      || { tail -5 /tmp/wiber-docker-apt.log >&2; say "apt-get failed; see /tmp/wiber-docker-apt.log"; exit 1; }
  fi
  say "packages installed in $((SECONDS - t)) s"
fi
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER

# --- engine -----------------------------------------------------------------
if ! "$DOCKER" info >/dev/null 2>&1; then
  t=$SECONDS
  say "starting dockerd (log: /var/log/wiber-dockerd.log)"
  $SUDO sh -c 'setsid nohup dockerd >/var/log/wiber-dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 120); do
    "$DOCKER" info >/dev/null 2>&1 && break
    sleep 0.5
  done
  "$DOCKER" info >/dev/null 2>&1 \
    || { tail -5 /var/log/wiber-dockerd.log >&2; say "dockerd did not answer within 60 s"; exit 1; }
  say "dockerd answers after $((SECONDS - t)) s"
fi

# --- the SDK the harness drives Docker with -----------------------------------
PY=.venv/bin/python
"$PY" -c 'import docker' >/dev/null 2>&1 \
  || { say "no Docker SDK in .venv: run scripts/setup.sh first (it installs the project there)"; exit 1; }

# --- offline images -------------------------------------------------------------
if [ "${WIBER_SKIP_OFFLINE_IMAGES:-0}" != 1 ]; then
  cache=${WIBER_HARNESS_CACHE:-$HOME/.cache/wiber-harness}
  if [ ! -f "$cache/kafka-4.4.0/libs/kafka_2.13-4.4.0.jar" ] || [ ! -x "$cache/toxiproxy-2.12.0/toxiproxy-server" ] \
     || [ ! -x "$cache/ferretdb-1.24.2/ferretdb-runner" ]; then
    say "provisioning the harness cache (wiber-harness doctor --fix)"
    "$PY" -m wiber_harness.cli doctor --fix >/dev/null || true
  fi
  t=$SECONDS
  bash docker/offline/build.sh
  say "offline images ready in $((SECONDS - t)) s"
fi
say "done in $((SECONDS - t_all)) s"
