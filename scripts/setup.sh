#!/usr/bin/env bash
# Installs everything Wiber and its harness need on a fresh machine:
# Debian packages (only what is missing), the Python distribution with its
# dev extras, then Kafka jars (Maven Central), Toxiproxy and FerretDB (Go
# module proxy) into the harness cache (~/.cache/wiber-harness).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "setup: installing the Python distribution (pip install -e '.[dev]')"
export PIP_ROOT_USER_ACTION=ignore
python3 -m pip install -q --disable-pip-version-check -e '.[dev]'
python3 -c "import wiber, wiber_harness"

echo "setup: provisioning Kafka, Toxiproxy and the store into the cache"
python3 -m wiber_harness.cli doctor --fix
