#!/usr/bin/env bash
# The sweeps behind ACTIONPLAN.md's results, at a budget a 2-core CPU finishes in about an
# hour. Every sweep ends by training its best configuration (highest mean validation
# accuracy) until it has 3 runs, one seed each (--repeats 3), so that every comparison is
# between independent runs of one configuration. Writes into $STORE (default ./results);
# then run
#   python analyze_results.py --tracking-uri sqlite:///results/mlflow.db --update-actionplan
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-results}
mkdir -p "$STORE"
URI="sqlite:///$(cd "$STORE" && pwd)/mlflow.db"
run() { uv run --no-sync python -m sweep "$@" --tracking-uri "$URI" --no-progress; }

# Round 1: architecture search. 3 trials, then 3 seeds of the best; 2 epochs, 10,000 images.
for e in exp1 exp2 exp3 exp4 exp5; do
  run "experiments/$e.yaml" --max-evals 3 --repeats 3 --epochs 2 --subset 10000
done
# Round 2/3 at 4 epochs: StepLR's step shortened to 2 epochs so that it decays within budget.
run experiments/exp6.yaml --max-evals 3 --repeats 3 --epochs 4 --subset 10000
run experiments/exp7.yaml --max-evals 3 --repeats 3 --epochs 4 --subset 10000 \
  --set train.scheduler.step_size=2
run experiments/exp14.yaml --max-evals 3 --repeats 3 --epochs 4 --subset 10000 \
  --set train.scheduler.step_size=2
run experiments/exp8.yaml --max-evals 3 --repeats 3 --epochs 4 --subset 10000 \
  --set train.scheduler.step_size=2
# The study's own search space (exp12: filters, units1, units2), 12 TPE trials at the same
# budget: which of the three widths matters (the report's importance table), and the
# baseline of exp14's augmentation.
run experiments/exp12.yaml --max-evals 12 --repeats 3 --epochs 4 --subset 10000 \
  --set train.scheduler.step_size=2
# A search of four knobs around exp15's recipe (12 TPE trials, no pruning so that every
# trial is complete and counts for the parameters' importance), 3 epochs on 10,000 images.
run experiments/exp16_fast_search.yaml --epochs 3 --subset 10000 --pruner none
# Baselines on all the training images with their own recipes, 3 seeds each (their files).
run experiments/mlp_baseline.yaml
run experiments/wide_deep.yaml
