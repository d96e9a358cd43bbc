#!/usr/bin/env bash
# Sets Wiber up on a fresh machine (Debian 12, Ubuntu 22.04+, or one that
# already has the tools), then only checks on every later run:
#
#  1. the project's virtual environment .venv, made by a Python >= 3.11
#     (python3, else python3.13/3.12/3.11; WIBER_PYTHON overrides), with the
#     distribution and its dev extras installed editable. The system Python
#     itself is never installed into: Debian and Ubuntu mark it externally
#     managed (PEP 668). Debian's python3-venv is installed when the Python
#     cannot make a venv;
#  2. Debian packages, only those missing: a Java runtime (Kafka), wrk, and,
#     only while the harness cache lacks what they build, Maven (Kafka's jars)
#     and a Go >= 1.21 (Toxiproxy, FerretDB). Go comes from Debian's versioned
#     golang-1.N-go packages, the newest the apt sources offer; on Debian 12,
#     whose own Go is 1.19, that needs bookworm-backports, which this script
#     adds (from the mirror the machine already uses) when no source has it.
#     A Go older than a module needs fetches the toolchain it needs through the
#     Go module proxy (GOTOOLCHAIN; harness/wiber_harness/provision/gotool.py);
#  3. Kafka jars (Maven Central), Toxiproxy and FerretDB (built with Go) into
#     the harness cache (~/.cache/wiber-harness, or WIBER_HARNESS_CACHE):
#     .venv/bin/wiber-harness doctor --fix.
#
# Root runs apt-get itself; anyone else needs sudo for step 2.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }
die() { say "$*"; exit 1; }
t_all=$SECONDS
VENV=.venv
PY_MIN=3.11
GO_MIN=1.21
CACHE=${WIBER_HARNESS_CACHE:-$HOME/.cache/wiber-harness}
if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi

ver_ge() {  # ver_ge A B: dotted version A >= B
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$2" ]
}

apt_updated=0
apt_update() {
  [ "$apt_updated" = 1 ] && return
  command -v apt-get >/dev/null 2>&1 \
    || die "no apt-get here: install the missing tools yourself (see the messages above)"
  "${SUDO[@]}" apt-get update -q >/tmp/wiber-setup-apt.log 2>&1 \
    || { tail -5 /tmp/wiber-setup-apt.log >&2; die "apt-get update failed; see /tmp/wiber-setup-apt.log"; }
  apt_updated=1
}

apt_install() {
  apt_update
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q "$@" >>/tmp/wiber-setup-apt.log 2>&1 \
    || { tail -5 /tmp/wiber-setup-apt.log >&2; die "apt-get install $* failed; see /tmp/wiber-setup-apt.log"; }
}

has_candidate() {  # has_candidate PKG: apt can install PKG from its sources
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

# --- 1. the virtual environment --------------------------------------------
pick_python() {
  local p v
  for p in ${WIBER_PYTHON:-python3 python3.13 python3.12 python3.11}; do
    command -v "$p" >/dev/null 2>&1 || continue
    v=$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    ver_ge "$v" "$PY_MIN" && { command -v "$p"; return 0; }
  done
  return 1
}

venv_ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; }

make_venv() {
  local py=$1 v
  rm -rf "$VENV"
  "$py" -m venv "$VENV" >/tmp/wiber-setup-venv.log 2>&1 && return
  # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) as python3.X-venv
  rm -rf "$VENV"
  v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ "$py" = /usr/bin/python3 ] || [ "$py" = "/usr/bin/python$v" ]; then
    apt_install "python$v-venv"
    "$py" -m venv "$VENV" >/tmp/wiber-setup-venv.log 2>&1 && return
  fi
  tail -5 /tmp/wiber-setup-venv.log >&2
  die "$py cannot create a virtual environment; see /tmp/wiber-setup-venv.log"
}

# The install is current when pyproject.toml (dependencies, entry points) and
# the interpreter are what the last install saw, and both packages import
# from this checkout.
stamp_now() { { sha256sum pyproject.toml; "$VENV/bin/python" -VV; pwd; } | sha256sum | cut -d' ' -f1; }
install_ok() {
  [ -f "$VENV/.wiber-setup" ] && [ "$(cat "$VENV/.wiber-setup")" = "$(stamp_now)" ] \
    && "$VENV/bin/python" - "$PWD" >/dev/null 2>&1 <<'PY'
import sys
from pathlib import Path

import wiber
import wiber_harness

root = Path(sys.argv[1]).resolve()
assert all(Path(m.__file__).resolve().is_relative_to(root) for m in (wiber, wiber_harness))
PY
}

if ! venv_ok; then
  py=$(pick_python) || die "no Python >= $PY_MIN found (python3, python3.13, python3.12, python3.11); install one or set WIBER_PYTHON"
  t=$SECONDS
  say "creating the virtual environment $VENV with $py"
  make_venv "$py"
  say "virtual environment ready ($((SECONDS - t)) s)"
fi
if ! install_ok; then
  t=$SECONDS
  say "installing the Python distribution into $VENV (pip install -e '.[dev]')"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' \
    || die "pip install failed (see above)"
  stamp_now >"$VENV/.wiber-setup"
  install_ok || die "the install finished but wiber/wiber_harness do not import from $PWD"
  say "Python distribution installed ($((SECONDS - t)) s)"
fi

# --- 2. Debian packages ------------------------------------------------------
# Which go: the one on PATH, else Debian's versioned ones (newest first).
find_go() {
  local g v
  for g in "$(command -v go || true)" $(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -rV); do
    [ -n "$g" ] && [ -x "$g" ] || continue
    v=$(GOTOOLCHAIN=local "$g" env GOVERSION 2>/dev/null) || continue
    ver_ge "${v#go}" "$GO_MIN" && { echo "$g"; return 0; }
  done
  return 1
}

newest_go_package() {  # the newest golang-1.N-go (N >= 21) apt can install
  local p n
  for p in $(apt-cache pkgnames golang-1. 2>/dev/null | grep -E '^golang-1\.[0-9]+-go$' | sort -rV); do
    n=${p#golang-}
    ver_ge "${n%-go}" "$GO_MIN" && has_candidate "$p" && { echo "$p"; return 0; }
  done
  return 1
}

add_bookworm_backports() {
  local mirror list=/etc/apt/sources.list.d/wiber-bookworm-backports.list opts=""
  [ -f /etc/os-release ] && . /etc/os-release
  [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ] || return 1
  mirror=$(apt-cache policy 2>/dev/null | awk '$3 == "bookworm/main" {print $2; exit}')
  [ -n "$mirror" ] || return 1
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] \
    && opts="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
  say "Debian 12's own Go is 1.19; adding bookworm-backports from $mirror ($list) for a newer one"
  say "  (backports packages are installed only when named: nothing else changes)"
  echo "deb ${opts}${mirror} bookworm-backports main" | "${SUDO[@]}" tee "$list" >/dev/null
  apt_updated=0
  apt_update
}

GO_BIN=""
ensure_go() {
  local pkg
  GO_BIN=$(find_go) && return
  apt_update
  pkg=$(newest_go_package) || { add_bookworm_backports && pkg=$(newest_go_package); } \
    || die "no Go >= $GO_MIN on PATH and none in the apt sources; install Go (1.21+) and put it on PATH, or set TOXIPROXY_BIN and FERRETDB_BIN to prebuilt binaries"
  apt_install "$pkg"
  GO_BIN=$(find_go) || die "installed $pkg but found no go >= $GO_MIN in /usr/lib/go-*/bin"
}

need=()
command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ] \
  || need+=(openjdk-17-jre-headless)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
# Maven and Go only build into the cache (versions: harness/wiber_harness/provision/)
has_entry() { [ -f "$CACHE/$1/.complete" ] || [ -n "${2:-}" ]; }
if ! has_entry kafka-4.4.0 "${KAFKA_HOME:-}" && ! command -v mvn >/dev/null 2>&1; then
  need+=(maven)
fi
go_needed=0
has_entry toxiproxy-2.12.0 "${TOXIPROXY_BIN:-}" && has_entry ferretdb-1.24.2 "${FERRETDB_BIN:-}" \
  || go_needed=1
if [ ${#need[@]} -gt 0 ]; then
  t=$SECONDS
  apt_install "${need[@]}"
  say "Debian packages installed ($((SECONDS - t)) s)"
fi
if [ "$go_needed" = 1 ]; then
  t=$SECONDS
  ensure_go
  say "Go for the builds: $GO_BIN ($(GOTOOLCHAIN=local "$GO_BIN" env GOVERSION), $((SECONDS - t)) s)"
  # a versioned Debian Go is not on PATH: the provisioning step below needs it there
  PATH="$(dirname "$GO_BIN"):$PATH"
  export PATH
fi

# --- 3. the harness cache ------------------------------------------------------
t=$SECONDS
"$VENV/bin/python" -m wiber_harness.cli doctor --fix \
  || die "provisioning failed (the lines above say what and how to fix it)"
say "provisioned ($((SECONDS - t)) s)"
say "done in $((SECONDS - t_all)) s; use $VENV/bin/wiber-harness and $VENV/bin/python"
