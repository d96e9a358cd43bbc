#!/usr/bin/env bash
# The regression gate, without stored baselines: runs the quick suite on a
# base commit and on this checkout, on this machine, alternately (base,
# change, base, change, ...; WIBER_GATE_REPEATS times each, default 3),
# and compares the two sides:
#
#   .venv/bin/wiber-harness compare OUT/base/all OUT/change/all
#
# Promises are gated strictly (a violation, a lost or a duplicated message in
# any of the change's runs fails, whatever the base did); throughput and
# latencies fail only beyond compare's noise-aware bounds: the medians of the
# repeats are compared, and a figure may worsen by max(threshold, 4 x the
# base's MAD, floor) (harness/wiber_harness/report/compare.py). With one
# repeat there is no MAD and a busy machine's noise can exceed the
# threshold: two single quick suites here differed by +140% to +365% in some
# e2e latencies. Both sides run on the same machine in the same job, so no
# number from other hardware is ever compared.
#
# Usage: scripts/ci-gate.sh BASE [OUT]     (OUT defaults to reports/gate)
#   BASE: a commit (sha, branch, tag) of this repository, e.g. origin/main.
# Needs scripts/setup.sh to have run here (.venv). The base is checked out
# into a temporary git worktree with its own virtual environment (its own
# dependencies) and runs, and reports, with its own code; both use the same
# harness cache. A base that writes no suite report (it predates the suite,
# or it is broken) leaves the change gated against itself: its promises
# only, with a warning.
#
# OUT/{base,change}/rep-N are the suites, OUT/{base,change}/all the reports
# over all their runs, OUT/compare.json the comparison.
# Exit: compare's (0 pass; 1 broken promise or regression; 2 cannot compare),
# or 1 when the change's suites wrote no run.
# Env: WIBER_GATE_REPEATS (default 3), WIBER_GATE_MARKDOWN (a file the
# comparison is appended to as Markdown, e.g. $GITHUB_STEP_SUMMARY).
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

REPEATS=${WIBER_GATE_REPEATS:-3}
[ "$REPEATS" -ge 1 ] 2>/dev/null || { say "WIBER_GATE_REPEATS must be a whole number >= 1"; exit 2; }

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

# --- the suites, alternately ----------------------------------------------------
for i in $(seq 1 "$REPEATS"); do
  if [ "$base_ok" = 1 ]; then
    t=$SECONDS rc=0
    (cd "$tmp/base" && .venv/bin/wiber-harness suite --quick --out "$OUT/base/rep-$i") || rc=$?
    say "base suite $i/$REPEATS: exit $rc ($((SECONDS - t)) s)"
  fi
  t=$SECONDS rc=0
  .venv/bin/wiber-harness suite --quick --out "$OUT/change/rep-$i" || rc=$?
  say "change suite $i/$REPEATS: exit $rc ($((SECONDS - t)) s)"
done

# One report over all of a side's runs (the `latest` links are not runs).
combine() {  # combine SIDE HARNESS: OUT/SIDE/all from OUT/SIDE/rep-*/runs/*
  local runs
  mapfile -t runs < <(find "$OUT/$1" -mindepth 3 -maxdepth 3 -type d -path "$OUT/$1/rep-*/runs/*" | sort)
  [ ${#runs[@]} -gt 0 ] || return 1
  "$2" report "${runs[@]}" --out "$OUT/$1/all" --title "Wiber quick suite x $REPEATS: $1" \
    >/dev/null || true
  [ -f "$OUT/$1/all/summary.json" ]
}
combine change .venv/bin/wiber-harness \
  || { say "the change's suites wrote no run ($OUT/change)"; exit 1; }

# --- the comparison -------------------------------------------------------------
against=$OUT/base/all
if [ "$base_ok" != 1 ] || ! combine base "$tmp/base/.venv/bin/wiber-harness"; then
  warn "no quick-suite report from the base $base: gating the change's promises only, not its figures"
  against=$OUT/change/all
fi
args=(--json "$OUT/compare.json")
[ -n "${WIBER_GATE_MARKDOWN:-}" ] && args+=(--markdown "$WIBER_GATE_MARKDOWN")
rc=0
.venv/bin/wiber-harness compare "$against" "$OUT/change/all" "${args[@]}" || rc=$?
say "compare $against $OUT/change/all: exit $rc"
exit "$rc"
