"""The command line: ``python -m sweep [COMMAND] ...`` parses the command's name and
hands the rest to it. ``python -m sweep EXPERIMENT.yaml`` is ``run``.

    python -m sweep [run] experiments/exp12.yaml [flags]   a sweep (sweep.cli.run)
    python -m sweep report [flags]                         the report (= analyze_results.py)
    python -m sweep predict MODEL --out FILE               score images with a logged model
    python -m sweep export-best SWEEP --out best.yaml      the selected config as a file
    python -m sweep ui [--port 5001]                       links into the MLflow UI
    python -m sweep export-results --out results           a store's sweeps as text files
    python -m sweep study STUDY.yaml --time-budget 3h      every sweep of a study, resumable
    python -m sweep data [--download]                      where the verified data is
"""

from __future__ import annotations

import importlib
import sys

# command -> the module whose main(argv) runs it
COMMANDS = {
    "run": "cli.run",
    "report": "cli.report",
    "predict": "cli.predict",
    "export-best": "cli.export_best",
    "ui": "cli.ui",
    "export-results": "cli.export_results",
    "study": "cli.study",
    "data": "cli.data",
}


def main(argv: list[str] | None = None) -> int:
    from .cli._shell import guarded

    argv = sys.argv[1:] if argv is None else list(argv)
    name = argv[0] if argv and argv[0] in COMMANDS else "run"
    rest = argv[1:] if argv and argv[0] in COMMANDS else argv
    command = importlib.import_module(f".{COMMANDS[name]}", __package__)
    return guarded(lambda: command.main(rest))


if __name__ == "__main__":
    sys.exit(main())
