#!/usr/bin/env bash
# The project's one test command (README.md names it; .ci/run runs it): set up, check, test.
# `--quick` (for development): skips nbdev-test and the tests marked slow. CI runs everything.
set -euo pipefail
quick=0; [ "${1:-}" = "--quick" ] && quick=1
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
echo "== notebooks and package agree, notebooks clean, README generated"
.venv/bin/nbdev-export
.venv/bin/nbdev-clean
.venv/bin/python tools/make_readme.py --check
if [ -n "$(git status --porcelain -- fastbook_ch7 nbs README.md 2>/dev/null)" ]; then
  git status --porcelain -- fastbook_ch7 nbs README.md
  echo "nbdev-export/nbdev-clean changed the files above: the package must be what the notebooks export and notebooks must be clean; run them and commit" >&2
  exit 1
fi
echo "== ruff (pyflakes rules) on the package, notebooks, tests and tools"
.venv/bin/ruff check -q fastbook_ch7 nbs tests bench tools
echo "== saved notebook outputs come from the current source (tools/run_notebooks.py makes them)"
.venv/bin/python tools/check_outputs.py
# pytest runs its tests in two processes (pytest-xdist), one torch thread each: most tests start the command-line tool
# or a tiny training, and one core each is what the machine has
if [ $quick = 1 ]; then OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 .venv/bin/pytest -q -p no:cacheprovider -n 2 -m "not slow"; exit; fi
echo "== nbdev-test (every cell of every notebook, on the smaller test recipe below)"
# Two notebooks run at once on two cores: one torch thread each, and idle OpenMP threads sleep instead of spinning
# (with 2 threads per notebook a training step was measured 30x slower from the threads stalling each other).
export OMP_WAIT_POLICY=PASSIVE
# Every cell runs, on a smaller recipe than the saved outputs (made by tools/run_notebooks.py without this variable): each
# notebook passes its recipe through `for_test_run` (01_baseline), which reads FASTBOOK_CH7_TEST_RECIPE.
FASTBOOK_CH7_TEST_RECIPE='epochs=3,long_factor=2,widen=0.25,presize=48' OMP_NUM_THREADS=1 .venv/bin/nbdev-test --n-workers 2 --timing
echo "== docs processing (nbdev's step before Quarto) keeps the saved outputs"
OMP_NUM_THREADS=1 .venv/bin/python tools/check_docs.py
echo "== pytest"
OMP_NUM_THREADS=1 .venv/bin/pytest -q -p no:cacheprovider -n 2
