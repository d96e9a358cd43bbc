#!/usr/bin/env bash
# The regression gate, without stored baselines: runs the quick suite on a
# base commit and on this checkout, on this machine, one after the other, and
# compares the two:
#
#   .venv/bin/wiber-harness compare OUT/base OUT/change
#
# Promises are gated strictly (a violation, a lost or a duplicated message in
# the change fails, whatever the base did); throughput and latencies fail
# only beyond compare's noise-aware bounds (harness/wiber_harness/report/compare.py).
# Both suites run on the same machine in the same job, so no number from
# other hardware is ever compared.
#
# Usage: scripts/ci-gate.sh BASE [OUT]     (OUT defaults to reports/gate)
#   BASE: a commit (sha, branch, tag) of this repository, e.g. origin/main.
# Needs scripts/setup.sh to have run here (.venv). The base is checked out
# into a temporary git worktree with its own virtual environment (its own
# dependencies) and runs its own code; both use the same harness cache.
# A base that writes no suite report (it predates the suite, or it is broken)
# leaves the change gated against itself: its promises only, with a warning.
#
# Exit: compare's (0 pass; 1 broken promise or regression; 2 cannot compare),
# or 1 when the change's suite wrote no report.
# Env: WIBER_GATE_MARKDOWN (a file the comparison is appended to as Markdown,
# e.g. $GITHUB_STEP_SUMMARY).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "ci-gate: $*" >&2; }
warn() {
  if [ -n "${GITHUB_ACTIONS:-}" ]; then echo "::warning::$*"; fi
  say "WARNING: $*"
}
[ $# -ge 1 ] || { say "usage: scripts/ci-gate.sh BASE [OUT]"; exit 2; }
[ -x .venv/bin/wiber-harness ] || { say "no .venv here: run ./scripts/setup.sh first"; exit 2; }
base=$(git rev-parse --verify "$1^{commit}") || { say "$1 is not a commit here"; exit 2; }
OUT=$(mkdir -p "${2:-reports/gate}" && cd "${2:-reports/gate}" && pwd)
rm -rf "$OUT/base" "$OUT/change"

tmp=$(mktemp -d /tmp/wiber-gate.XXXXXX)
cleanup() {
  git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the base commit, with its own venv and its own code -------------------
t=$SECONDS
git worktree add --detach -q "$tmp/base" "$base"
say "base $base in $tmp/base; installing it into its own venv"
base_ok=1
.venv/bin/python -m venv "$tmp/base/.venv" \
  && "$tmp/base/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$tmp/base" \
  && (cd "$tmp/base" && .venv/bin/python -m wiber_harness.cli doctor --fix >/dev/null) \
  || { base_ok=0; warn "the base $base could not be installed or provisioned"; }
say "base ready ($((SECONDS - t)) s)"
if [ "$base_ok" = 1 ]; then
  t=$SECONDS
  rc=0
  (cd "$tmp/base" && .venv/bin/wiber-harness suite --quick --out "$OUT/base") || rc=$?
  say "base suite: exit $rc ($((SECONDS - t)) s)"
fi

# --- the change ---------------------------------------------------------------
t=$SECONDS
rc=0
.venv/bin/wiber-harness suite --quick --out "$OUT/change" || rc=$?
say "change suite: exit $rc ($((SECONDS - t)) s)"
[ -f "$OUT/change/summary.json" ] || { say "the change's suite wrote no report ($OUT/change)"; exit 1; }

# --- the comparison -------------------------------------------------------------
against=$OUT/base
if [ ! -f "$OUT/base/summary.json" ]; then
  warn "no quick-suite report from the base $base: gating the change's promises only, not its figures"
  against=$OUT/change
fi
args=(--json "$OUT/compare.json")
[ -n "${WIBER_GATE_MARKDOWN:-}" ] && args+=(--markdown "$WIBER_GATE_MARKDOWN")
rc=0
.venv/bin/wiber-harness compare "$against" "$OUT/change" "${args[@]}" || rc=$?
say "compare $against $OUT/change: exit $rc"
exit "$rc"
