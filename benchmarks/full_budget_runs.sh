#!/usr/bin/env bash
# The study's own budgets, as far as a 2-core CPU allows (see ACTIONPLAN.md, "The study's
# budgets"): the published exp12 winner trained once (--repeats 1; its file asks for 3
# seeds) for up to 40 epochs on all 54,000 training images (about 50-90 min here), then round 1 (exp1-exp5) at its 5 epochs on all
# images with ASHA pruning, TRIALS search trials each (about 10 min an unpruned trial).
# Writes into $STORE (default ./results-full); then run
#   python analyze_results.py --tracking-uri sqlite:///results-full/mlflow.db
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-results-full}
TRIALS=${TRIALS:-2}
mkdir -p "$STORE"
URI="sqlite:///$(cd "$STORE" && pwd)/mlflow.db"
run() { uv run --no-sync python -m sweep "$@" --tracking-uri "$URI" --no-progress; }

run experiments/exp12_winner.yaml --repeats 1
for e in exp1 exp2 exp3 exp4 exp5; do
  run "experiments/$e.yaml" --max-evals "$TRIALS" --pruner asha
done
