#!/usr/bin/env bash
# Runs the README's two commands for real on a stock Debian 12 in a container,
# from a clean clone of the current commit, and says how long each part took.
#
# The container: debootstrap --variant=minbase bookworm from the machine's
# apt mirror, imported into Docker (no registry needed), plus what any Debian
# machine someone cloned this repository on has: the system python3 (3.11,
# externally managed: pip refuses to install into it), git, sudo,
# ca-certificates, netbase, procps, iproute2. Nothing of the project's is
# preinstalled: no Java, Maven, Go, wrk, python3-venv or Python package. The
# commands run as an ordinary user with sudo, as on a workstation.
#
# Phases (each timed; all by default, or name them as arguments):
#   stock  show that the container is stock (PEP 668 marker, tools absent)
#   setup  ./scripts/setup.sh, the first time (the set-up time)
#   main   ./scripts/setup.sh && .venv/bin/wiber-harness suite --quick
#   tests  ./scripts/setup.sh && .venv/bin/python -m pytest $SMOKE_PYTEST_ARGS
# The suite's report (summary.md/json) and the tests' junit.xml are copied to
# $SMOKE_OUT.
#
# Needs a Docker engine (scripts/docker-setup.sh starts one; with
# WIBER_SKIP_OFFLINE_IMAGES=1 it skips the compose images) and debootstrap.
# apt, pip, Maven and Go inside the container reach the network through the
# host's (--network host); the machine's extra CA certificates
# (/usr/local/share/ca-certificates) are copied into the image's build
# context for the build only and deleted afterwards.
#
# Env: DOCKER (default /usr/bin/docker), WIBER_DEBIAN_MIRROR (default: the
# mirror this machine's apt uses, else deb.debian.org), SMOKE_PYTEST_ARGS
# (appended to the test command, e.g. "-k 'unit or test_stack'"; default
# none: the README's command as it is), SMOKE_OUT (default a new folder under
# /tmp), WIBER_STACK_LOCK (a file to flock while a stack runs, for machines
# where other stacks run too; with --network host they share ports),
# SMOKE_KEEP=1 (leave the container running), SMOKE_REBUILD=1 (rebuild the
# images).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
BASE=wiber-smoke/debian:bookworm
STOCK=wiber-smoke/stock:bookworm
NAME=wiber-smoke-$$
HOME_IN=/home/wiber
OUT=${SMOKE_OUT:-$(mktemp -d /tmp/wiber-smoke.XXXXXX)}
PHASES=("$@")
[ ${#PHASES[@]} -gt 0 ] || PHASES=(stock setup main tests)

say() { echo "debian-smoke: $*" >&2; }
die() { say "$*"; exit 1; }

CLEANUP=()
cleanup() {
  local p
  for p in "${CLEANUP[@]}"; do rm -rf "$p"; done
  if [ "${SMOKE_KEEP:-0}" != 1 ]; then
    "$DOCKER" rm -f "$NAME" >/dev/null 2>&1 || true
  else
    say "container $NAME left running (SMOKE_KEEP=1): $DOCKER rm -f $NAME"
  fi
}
trap cleanup EXIT

mirror() {
  local m
  m=${WIBER_DEBIAN_MIRROR:-$(apt-cache policy 2>/dev/null | awk '$3 == "bookworm/main" {print $2; exit}')}
  echo "${m:-http://deb.debian.org/debian}"
}

base_image() {
  if [ "${SMOKE_REBUILD:-0}" != 1 ] && "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
    say "$BASE exists"
    return
  fi
  command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] \
    || die "debootstrap is not installed (apt-get install debootstrap)"
  local root m
  m=$(mirror)
  root=$(mktemp -d /var/tmp/wiber-smoke-root.XXXXXX)
  CLEANUP+=("$root" "$root.log")
  say "debootstrap --variant=minbase bookworm from $m ..."
  debootstrap --variant=minbase bookworm "$root" "$m" >"$root.log" 2>&1 \
    || { tail -5 "$root.log" >&2; die "debootstrap failed"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' - "$BASE" >/dev/null
}

stock_image() {
  if [ "${SMOKE_REBUILD:-0}" != 1 ] && "$DOCKER" image inspect "$STOCK" >/dev/null 2>&1; then
    say "$STOCK exists"
    return
  fi
  local ctx f
  ctx=$(mktemp -d /tmp/wiber-smoke-ctx.XXXXXX)
  CLEANUP+=("$ctx")
  mkdir "$ctx/ca-certificates"
  for f in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [ -f "$f" ] && cp "$f" "$ctx/ca-certificates/"
  done
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
# the machine's extra CAs (this build only; they are not part of the repository)
COPY ca-certificates/ /usr/local/share/ca-certificates/
RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \\
      python3 git sudo ca-certificates netbase procps iproute2 >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && useradd -m -s /bin/bash wiber \\
 && echo 'wiber ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/wiber
USER wiber
WORKDIR $HOME_IN
CMD ["sleep", "infinity"]
EOF
  "$DOCKER" build --network host -q -t "$STOCK" "$ctx" >/dev/null
}

in_box() {  # in_box CMD: run a bash command line as the user, in the clone
  "$DOCKER" exec -u wiber -w "$HOME_IN/wiber" -e HOME="$HOME_IN" \
    -e PYTEST_ADDOPTS="--junitxml=$HOME_IN/smoke-junit.xml" "$NAME" bash -lc "$1"
}

LOCK_WAIT=0
locked() {  # run "$@" holding WIBER_STACK_LOCK when one is set; LOCK_WAIT: seconds waited
  local t=$SECONDS rc=0
  LOCK_WAIT=0
  if [ -z "${WIBER_STACK_LOCK:-}" ]; then "$@"; return; fi
  exec 9>>"$WIBER_STACK_LOCK"
  flock 9
  LOCK_WAIT=$((SECONDS - t))
  [ "$LOCK_WAIT" = 0 ] || say "waited $LOCK_WAIT s for the stack lock $WIBER_STACK_LOCK"
  "$@" || rc=$?
  flock -u 9
  exec 9>&-
  return "$rc"
}

RESULTS=()
phase() {  # phase NAME WHAT CMD...: run, time (less any wait for the stack lock), record
  local name=$1 t0=$SECONDS rc=0 took
  say "--- $name: $2"
  shift 2
  LOCK_WAIT=0
  "$@" || rc=$?
  took=$((SECONDS - t0 - LOCK_WAIT))
  RESULTS+=("$(printf '%-6s exit %-3s %5d s' "$name" "$rc" "$took")")
  say "--- $name: exit $rc after $took s"
}

STOCK_CHECK='
ok=1
check() { if eval "$2" >/dev/null 2>&1; then echo "  yes: $1"; else echo "  NO:  $1"; ok=0; fi; }
echo "$(. /etc/os-release; echo "$PRETTY_NAME"), $(python3 --version) at $(command -v python3)"
check "the system Python is externally managed (PEP 668)" "test -f /usr/lib/python3.11/EXTERNALLY-MANAGED"
check "it has no pip (Debian installs none with python3)" "! python3 -m pip --version"
check "it cannot make a venv (no python3-venv)" "! python3 -m venv /tmp/probe-venv"
for t in java mvn go wrk; do check "no $t" "! command -v $t"; done
check "no Debian Go or JVM" "! ls -d /usr/lib/go-* /usr/lib/jvm"
check "no harness cache" "test ! -e ~/.cache/wiber-harness"
[ "$ok" = 1 ]
'
# the README's commands (tests: with SMOKE_PYTEST_ARGS appended)
SETUP='./scripts/setup.sh'
MAIN='./scripts/setup.sh && .venv/bin/wiber-harness suite --quick'
TESTS="./scripts/setup.sh && .venv/bin/python -m pytest${SMOKE_PYTEST_ARGS:+ $SMOKE_PYTEST_ARGS}"

main() {
  "$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers '$DOCKER info' (scripts/docker-setup.sh starts one)"
  local t0=$SECONDS commit
  commit=$(git -C "$REPO" rev-parse HEAD)
  [ -z "$(git -C "$REPO" status --porcelain --untracked-files=no)" ] \
    || say "note: uncommitted changes are not in the clone (it is of $commit)"
  base_image
  stock_image
  say "images ready ($((SECONDS - t0)) s)"

  local ctx
  ctx=$(mktemp -d /tmp/wiber-smoke-clone.XXXXXX)
  CLEANUP+=("$ctx")
  git clone -q --no-local "$REPO" "$ctx/wiber"
  git -C "$ctx/wiber" checkout -q "$commit"
  "$DOCKER" run -d --init --name "$NAME" --network host "$STOCK" >/dev/null
  "$DOCKER" cp "$ctx/wiber" "$NAME:$HOME_IN/wiber"
  "$DOCKER" exec -u root "$NAME" chown -R wiber:wiber "$HOME_IN/wiber"
  say "clean clone of $commit in $NAME:$HOME_IN/wiber"

  local p
  for p in "${PHASES[@]}"; do
    case $p in
      stock) phase stock "is the container stock?" in_box "$STOCK_CHECK" ;;
      setup) phase setup "$SETUP" in_box "$SETUP" ;;
      main) phase main "$MAIN" locked in_box "$MAIN" ;;
      tests) phase tests "$TESTS" locked in_box "$TESTS" ;;
      *) die "unknown phase $p (stock, setup, main, tests)" ;;
    esac
  done

  # the newest suite report and the tests' junit.xml
  mkdir -p "$OUT"
  local suite
  suite=$(in_box 'ls -1d reports/suites/*/ 2>/dev/null | tail -1' || true)
  if [ -n "$suite" ]; then
    "$DOCKER" cp "$NAME:$HOME_IN/wiber/${suite%/}/summary.md" "$OUT/" 2>/dev/null || true
    "$DOCKER" cp "$NAME:$HOME_IN/wiber/${suite%/}/summary.json" "$OUT/" 2>/dev/null || true
  fi
  "$DOCKER" cp "$NAME:$HOME_IN/smoke-junit.xml" "$OUT/junit.xml" 2>/dev/null || true
  say "results (reports in $OUT):"
  printf '  %s\n' "${RESULTS[@]}" >&2
  say "total $((SECONDS - t0)) s"
  ! printf '%s\n' "${RESULTS[@]}" | grep -qv ' exit 0 '
}

main
