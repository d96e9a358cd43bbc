#!/usr/bin/env bash
# Builds local stand-ins for the images docker/docker-compose.yml pulls, for
# machines with a Docker engine but no registry (docker/offline/README in
# docker/README.md). Idempotent: an image that exists is skipped, except the
# app image, which is always rebuilt so it runs the current source (its
# dependency layer is cached, so that takes seconds) and is labelled with the
# source's content digest (org.wiber.source-digest), which the harness checks.
#
#   wiber-offline/debian:bookworm   debootstrap --variant=minbase + docker import
#   wiber-offline/python:3.11       + Debian's python3 (base of the app image)
#   wiber-offline/kafka:4.4.0       + openjdk-17-jre-headless + the harness's cached jars;
#                                   takes the official image's KAFKA_* env
#   wiber-offline/toxiproxy:2.12.0  + the cached toxiproxy-server
#   wiber-offline/ferretdb:1.24.2   + the cached ferretdb-runner (SQLite)
#   wiber/app:latest                docker/Dockerfile on wiber-offline/python:3.11
#
# The jars and binaries come from the harness cache (~/.cache/wiber-harness,
# or WIBER_HARNESS_CACHE); 'wiber-harness doctor --fix' provisions them.
# apt inside the builds uses the plain-http Debian mirror; pip (app image)
# goes through HTTPS, so the machine's extra CA certificates
# (/usr/local/share/ca-certificates) are copied into the app's build context
# (docker/ca-certificates/) for the build and deleted afterwards.
#
# Env: DOCKER (client, default /usr/bin/docker), WIBER_OFFLINE_REBUILD=1
# (rebuild everything), WIBER_DEBIAN_MIRROR, WIBER_APP_IMAGE.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
CACHE=${WIBER_HARNESS_CACHE:-$HOME/.cache/wiber-harness}
MIRROR=${WIBER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
REBUILD=${WIBER_OFFLINE_REBUILD:-0}

BASE=wiber-offline/debian:bookworm
PYTHON=wiber-offline/python:3.11
KAFKA=wiber-offline/kafka:4.4.0
TOXIPROXY=wiber-offline/toxiproxy:2.12.0
FERRETDB=wiber-offline/ferretdb:1.24.2
APP=${WIBER_APP_IMAGE:-wiber/app:latest}

KAFKA_LIBS=$CACHE/kafka-4.4.0/libs
TOXIPROXY_BIN=$CACHE/toxiproxy-2.12.0/toxiproxy-server
FERRETDB_BIN=$CACHE/ferretdb-1.24.2/ferretdb-runner

CLEANUP=()
cleanup() {
  local p
  for p in "${CLEANUP[@]}"; do rm -rf "$p"; done
}
trap cleanup EXIT

say() { echo "offline-images: $*" >&2; }
die() { say "$*"; exit 1; }

have() { [ "$REBUILD" != 1 ] && "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

timed() {  # timed LABEL CMD...: run, then report the seconds it took
  local label=$1 t0=$SECONDS
  shift
  "$@"
  say "$label ready ($((SECONDS - t0)) s)"
}

# Put the machine's extra CA certificates into a build context (deleted on exit).
certs_into() {
  local dir=$1/ca-certificates f
  [ -d "$dir" ] || { mkdir -p "$dir"; CLEANUP+=("$dir"); }
  for f in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [ -f "$f" ] || continue
    cp "$f" "$dir/"
    CLEANUP+=("$dir/$(basename "$f")")
  done
}

build() {  # build TAG CONTEXT [docker build args...]
  local tag=$1 ctx=$2
  shift 2
  "$DOCKER" build --network host -q -t "$tag" "$@" "$ctx" >/dev/null
}

preflight() {
  "$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers '$DOCKER info'; start dockerd (scripts/docker-setup.sh does)"
  local missing=()
  [ -f "$KAFKA_LIBS/kafka_2.13-4.4.0.jar" ] || missing+=("Kafka jars ($KAFKA_LIBS)")
  [ -x "$TOXIPROXY_BIN" ] || missing+=("toxiproxy-server ($TOXIPROXY_BIN)")
  [ -x "$FERRETDB_BIN" ] || missing+=("ferretdb-runner ($FERRETDB_BIN)")
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing from the harness cache: ${missing[*]}; run 'wiber-harness doctor --fix' first"
  fi
}

base_image() {
  have "$BASE" && { say "$BASE exists"; return; }
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  local root
  root=$(mktemp -d /var/tmp/wiber-debootstrap.XXXXXX)
  CLEANUP+=("$root")
  say "debootstrap bookworm from $MIRROR ..."
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
    || { tail -5 "$root.log" >&2; die "debootstrap failed; see $root.log"; }
  rm -f "$root.log"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90wiber-lean"
  tar -C "$root" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' - "$BASE" >/dev/null
}

python_image() {
  have "$PYTHON" && { say "$PYTHON exists"; return; }
  build "$PYTHON" "$HERE/python" --build-arg "BASE=$BASE"
}

kafka_image() {
  have "$KAFKA" && { say "$KAFKA exists"; return; }
  rm -rf "$HERE/kafka/libs"
  CLEANUP+=("$HERE/kafka/libs")
  cp -r "$KAFKA_LIBS" "$HERE/kafka/libs"
  build "$KAFKA" "$HERE/kafka" --build-arg "BASE=$BASE"
}

toxiproxy_image() {
  have "$TOXIPROXY" && { say "$TOXIPROXY exists"; return; }
  CLEANUP+=("$HERE/toxiproxy/toxiproxy-server")
  cp "$TOXIPROXY_BIN" "$HERE/toxiproxy/toxiproxy-server"
  build "$TOXIPROXY" "$HERE/toxiproxy" --build-arg "BASE=$BASE"
}

ferretdb_image() {
  have "$FERRETDB" && { say "$FERRETDB exists"; return; }
  CLEANUP+=("$HERE/ferretdb/ferretdb-runner")
  cp "$FERRETDB_BIN" "$HERE/ferretdb/ferretdb-runner"
  build "$FERRETDB" "$HERE/ferretdb" --build-arg "BASE=$BASE"
}

app_image() {
  # The app's context is the repository root (it needs system/); .dockerignore
  # there keeps the context to what the Dockerfile copies.
  # The label is the content digest of system/wiber: the harness refuses an
  # app image whose digest differs from the source it is run from.
  local digest
  digest=$(python3 "$REPO/harness/wiber_harness/cluster/source_digest.py" "$REPO/system/wiber") \
    || die "could not compute the source digest of $REPO/system/wiber"
  certs_into "$REPO/docker"
  build "$APP" "$REPO" -f "$REPO/docker/Dockerfile" --build-arg "BASE_IMAGE=$PYTHON" \
    --label "org.wiber.source-digest=$digest"
}

# Run "timed LABEL FN" for each LABEL=FN pair at once (the apt-heavy Kafka and
# Python images spend most of their time downloading); fail if any failed.
parallel() {
  local pids=() labels=() pair i failed=()
  for pair in "$@"; do
    # a background job does not inherit the EXIT trap: it cleans up its own copies
    (trap cleanup EXIT; timed "${pair%%=*}" "${pair#*=}") &
    pids+=($!)
    labels+=("${pair%%=*}")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${labels[$i]}")
  done
  [ ${#failed[@]} -eq 0 ] || die "building ${failed[*]} failed (rerun with the build's output: drop -q in build())"
}

main() {
  local t0=$SECONDS
  preflight
  timed "$BASE" base_image
  parallel "$PYTHON=python_image" "$KAFKA=kafka_image" "$TOXIPROXY=toxiproxy_image" "$FERRETDB=ferretdb_image"
  timed "$APP" app_image
  say "all images ready in $((SECONDS - t0)) s"
}

main "$@"
