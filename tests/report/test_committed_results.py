"""The results the repository carries: ACTIONPLAN.md's and the README's results sections
are what ``analyze_results.py`` makes of the committed exports in ``results/`` alone, as a
fresh clone would run it (no store: those went with their machines)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_cli


@pytest.mark.slow
def test_the_committed_results_regenerate_the_committed_sections(tmp_path: Path) -> None:
    for name in ("ACTIONPLAN.md", "README.md"):
        shutil.copyfile(REPO / name, tmp_path / name)
    done = run_cli(
        REPO / "analyze_results.py",
        "--results",
        "results",  # (as the committed sections name it)
        "--out",
        tmp_path / "reports",
        "--update-actionplan",
        tmp_path / "ACTIONPLAN.md",
        "--update-readme",
        tmp_path / "README.md",
        cwd=REPO,  # (reads there; writes only into tmp_path)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("ACTIONPLAN.md", "README.md"):
        regenerated = (tmp_path / name).read_text(encoding="utf-8")
        assert regenerated == (REPO / name).read_text(encoding="utf-8"), (
            f"{name} differs from what the committed results give: run `python "
            "analyze_results.py --results results --update-actionplan --update-readme`"
        )
