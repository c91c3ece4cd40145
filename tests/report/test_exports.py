"""A store's results exported as text (``python -m sweep export-results``) and read back:
the same runs, sweeps, per-epoch metrics and confusion tables the store holds, the store
untouched, each experiment's folder rewritten whole, keeping the sweeps other stores put
there."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from support import run_tiny
from sweep import names as M
from sweep.__main__ import main
from sweep.report import load_runs, read_results

pytestmark = pytest.mark.sweep  # a sweep in this process, into a temporary store


@pytest.fixture(scope="module")
def exported(tmp_path_factory, synthetic_dir):
    tmp = tmp_path_factory.mktemp("exports")
    result, client = run_tiny(tmp, synthetic_dir)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    before = hashlib.sha256((tmp / "mlflow.db").read_bytes()).hexdigest()
    code = main(["export-results", "--tracking-uri", uri, "--out", str(tmp / "results")])
    after = hashlib.sha256((tmp / "mlflow.db").read_bytes()).hexdigest()
    return result, client, uri, tmp / "results", code, before == after


def test_one_folder_per_experiment_with_every_run_and_epoch(exported) -> None:
    result, _, _, out, code, store_unchanged = exported
    assert code == 0 and store_unchanged
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]  # (no staging folder left)
    folder = out / "tiny"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["confusion", "epochs.csv", "exported.json", "runs.csv", "sweeps.csv"]
    runs = pd.read_csv(folder / "runs.csv")
    assert sorted(runs["run_id"]) == sorted(t.run_id for t in result.trials)
    epochs = pd.read_csv(folder / "epochs.csv")
    assert len(epochs) == len(result.trials) * 2 * len(M.EPOCH_METRICS)  # 2 epochs each
    assert len(list((folder / "confusion").iterdir())) == len(result.trials)
    meta = json.loads((folder / "exported.json").read_text())
    assert meta["experiment"] == "tiny" and meta["runs"] == len(result.trials)


def test_what_is_read_back_is_what_the_store_holds(exported) -> None:
    result, client, uri, out, _, _ = exported
    runs, reader, sweeps = read_results(out)
    stored, _, stored_sweeps = load_runs(uri)
    key = ["run_id", "config_id", "seed", "role", "status", M.VAL_ACCURACY, M.TEST_ACCURACY]
    left = runs[key].sort_values("run_id").reset_index(drop=True)
    right = stored[key].sort_values("run_id").reset_index(drop=True)
    right["seed"] = right["seed"].astype("int64")
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    assert list(sweeps["parent_run_id"]) == list(stored_sweeps["parent_run_id"])
    assert sweeps["search_spec"][0] == stored_sweeps["search_spec"][0]  # (JSON and back)
    run_id = result.trials[0].run_id
    for key in M.EPOCH_METRICS:
        got = [(m.step, m.value) for m in reader.get_metric_history(run_id, key)]
        want = [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
        assert got == want, key


def test_a_confusion_table_comes_back_as_the_run_logged_it(exported, tmp_path) -> None:
    result, client, _, out, _, _ = exported
    run_id = result.trials[1].run_id
    _, reader, _ = read_results(out)
    mine = Path(reader.download_artifacts(run_id, M.CONFUSION_TABLE, str(tmp_path)))
    theirs = Path(client.download_artifacts(run_id, M.CONFUSION_TABLE, str(tmp_path / "x")))
    assert mine.read_text() == theirs.read_text()
    with pytest.raises(FileNotFoundError):
        reader.download_artifacts("0" * 32, M.CONFUSION_TABLE, str(tmp_path))


def test_exporting_again_replaces_the_folder_whole(exported) -> None:
    _, _, uri, out, _, _ = exported
    (out / "tiny" / "stale.txt").write_text("from an earlier export")
    assert main(["export-results", "--tracking-uri", uri, "--out", str(out)]) == 0
    assert not (out / "tiny" / "stale.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]


def test_a_sweep_exported_from_another_store_is_kept(
    exported, tmp_path_factory, synthetic_dir
) -> None:
    """Results that outlive their machines: a folder holding one machine's sweep, exported
    into from another machine's store, holds both sweeps (the first one's cells exactly as
    they were); exporting the second store again changes nothing."""
    import shutil

    first, _, _, out, _, _ = exported
    results = tmp_path_factory.mktemp("both") / "results"
    shutil.copytree(out, results)
    text = {"dtype": str, "keep_default_na": False, "na_filter": False}  # cells as written
    earlier = {n: pd.read_csv(results / "tiny" / n, **text) for n in ("runs.csv", "epochs.csv")}
    other = tmp_path_factory.mktemp("another-machine")
    second, _ = run_tiny(other, synthetic_dir)
    uri = f"sqlite:///{other / 'mlflow.db'}"
    assert main(["export-results", "--tracking-uri", uri, "--out", str(results)]) == 0
    folder = results / "tiny"
    runs, reader, sweeps = read_results(results)
    ids = [t.run_id for t in (*first.trials, *second.trials)]
    assert sorted(runs["run_id"]) == sorted(ids) and len(sweeps) == 2
    assert {p.stem for p in (folder / "confusion").iterdir()} == set(ids)
    for run_id in ids:  # every run's history, of either store
        assert [m.step for m in reader.get_metric_history(run_id, M.VAL_ACCURACY)] == [1, 2]
    meta = json.loads((folder / "exported.json").read_text())
    assert (meta["runs"], meta["kept"], meta["source"]) == (6, 3, "sqlite:///mlflow.db")
    for name, before in earlier.items():  # the first sweep's rows, cell for cell
        now = pd.read_csv(folder / name, **text)
        kept = now[now["run_id"].isin(set(before["run_id"]))][list(before.columns)]
        pd.testing.assert_frame_equal(kept.reset_index(drop=True), before, obj=name)
    again = {n: (folder / n).read_text() for n in ("runs.csv", "sweeps.csv", "epochs.csv")}
    assert main(["export-results", "--tracking-uri", uri, "--out", str(results)]) == 0
    assert {n: (folder / n).read_text() for n in again} == again


def test_a_store_that_is_not_there_is_refused_in_one_line(tmp_path, capsys) -> None:
    uri = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["export-results", "--tracking-uri", uri, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "r").exists()


def test_the_report_from_the_exports_is_the_report_from_the_store(exported, tmp_path) -> None:
    from sweep.report import build_report

    _, _, uri, out, _, _ = exported
    from_store = build_report(uri, tmp_path / "a")
    from_exports = build_report(None, tmp_path / "b", results=out)
    both = build_report(uri, tmp_path / "c", results=out)  # (a run in both counts once)
    assert from_exports.markdown == from_store.markdown == both.markdown
    assert from_exports.summary_markdown == from_store.summary_markdown
    figures = sorted(f.name for f in from_store.files)
    assert sorted(f.name for f in from_exports.files) == figures  # curves, confusion matrix


def test_the_exports_regenerate_the_results_section_exactly(exported, tmp_path) -> None:
    """What a fresh clone does: the committed exports alone rewrite ACTIONPLAN's results
    into the text committed with them, whenever it is run."""
    _, _, _, out, _, _ = exported
    plan = tmp_path / "ACTIONPLAN.md"
    plan.write_text(
        "# plan\n\n<!-- results:start (written by `python analyze_results.py "
        "--update-actionplan`) -->\nold\n<!-- results:end -->\n\nafter\n"
    )
    argv = ["report", "--results", str(out), "--out", str(tmp_path / "r")]
    assert main([*argv, "--update-actionplan", str(plan)]) == 0
    first = plan.read_text()
    assert "old" not in first and first.endswith("after\n") and "exp9" not in first
    assert f"Measured from `{out}` on " in first and "| tiny [" in first
    assert main([*argv, "--update-actionplan", str(plan)]) == 0
    assert plan.read_text() == first


def test_exports_that_are_not_there_are_refused_in_one_line(tmp_path, capsys) -> None:
    argv = ["report", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --results") and "\n" not in err


def test_a_finished_sweep_in_the_exports_is_known_by_its_setup(exported, tmp_path) -> None:
    """What lets a study on another machine skip a sweep its exports hold: the same setup
    (the config but its seeds), finished; an export from before sweeps.csv said how a
    sweep ended counts where it has every run a sweep of that setup trains."""
    from sweep.config import SweepIdentity, load_experiment
    from sweep.report import exported_finished
    from sweep.search import planned_runs

    result, _, _, out, _, _ = exported
    config = load_experiment(out.parent / "tiny.yaml")
    setup, runs = SweepIdentity.of(config).setup, planned_runs(config)
    assert runs == len(result.trials) == 3
    sweeps = pd.read_csv(out / "tiny" / "sweeps.csv")
    assert list(sweeps[["sweep_key", "status"]].itertuples(index=False)) == [(setup, "FINISHED")]
    assert exported_finished(out, "tiny", setup, runs)
    assert not exported_finished(out, "tiny", "another setup", runs)
    assert not exported_finished(out, "other", setup, runs)  # (no folder of that name)
    copy = tmp_path / "results" / "tiny"
    copy.mkdir(parents=True)
    (copy / "runs.csv").write_bytes((out / "tiny" / "runs.csv").read_bytes())
    sweeps.assign(status="KILLED").to_csv(copy / "sweeps.csv", index=False)  # a time budget
    assert not exported_finished(copy.parent, "tiny", setup, runs)
    sweeps.drop(columns=["sweep_key", "status", "ended_by"]).to_csv(copy / "sweeps.csv")
    assert exported_finished(copy.parent, "tiny", setup, runs)  # (an older export: by runs)
    assert not exported_finished(copy.parent, "tiny", setup, runs + 1)
    (copy / "runs.csv").write_text('not,a\n"table')
    assert not exported_finished(copy.parent, "tiny", setup, runs)


def test_an_exported_table_reads_back_as_the_store_gives_it(tmp_path) -> None:
    """Params are MLflow's text ("None" for all images, "20" for 20 epochs), ids are text
    even where a hash is all digits, metrics are numbers and a missing one is NaN: so that
    a report from exports says what a report from the store says."""
    from sweep.report._exports import read_runs

    path = tmp_path / "runs.csv"
    path.write_text(
        "run_id,config_id,params.data.subset,params.train.epochs,test_accuracy,epochs_run\n"
        "0123456789,12345678,None,20,0.9,20\n"
        "abc,1e5,10000,4,,\n"
    )
    table = read_runs(path)
    assert list(table["params.data.subset"]) == ["None", "10000"]
    assert list(table["params.train.epochs"]) == ["20", "4"]
    assert list(table["config_id"]) == ["12345678", "1e5"] and table["run_id"][0] == "0123456789"
    assert table["test_accuracy"][0] == 0.9 and pd.isna(table["test_accuracy"][1])
    assert pd.isna(table["epochs_run"][1])
