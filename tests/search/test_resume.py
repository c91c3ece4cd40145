"""The sweep state on disk and what opens it again: matched on the sweep's identity (the
whole config to resume, the search to extend), older files included. No store: the
tracker is a stand-in that knows the parent runs' statuses."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest
from hyperopt import Trials

from sweep.config import SweepIdentity
from sweep.search import _state as resume

IDENTITY = SweepIdentity(config="c" * 16, search="s" * 16, setup="u" * 16)


class Parents:
    """A tracker that only answers ``get_run`` with a parent run's status."""

    def __init__(self, **status: str):
        self.status = status

    def get_run(self, run_id: str):
        if run_id not in self.status:
            return None
        return SimpleNamespace(info=SimpleNamespace(status=self.status[run_id]))


def saved(path: Path, parent: str = "p1", identity: SweepIdentity = IDENTITY, **kw) -> None:
    resume.save(path, resume.SweepState("exp", parent, identity, Trials(), **kw))


def test_the_state_file_says_in_words_what_it_is_matched_by(tmp_path: Path) -> None:
    path = tmp_path / "exp.trials.pkl"
    saved(path)
    state = resume.load(path)
    assert state.identity == IDENTITY
    assert "whole config" in state.keyed_on and "max_evals" in state.keyed_on


def test_an_interrupted_sweep_resumes_only_with_the_same_whole_config(tmp_path: Path) -> None:
    path = tmp_path / "exp.trials.pkl"
    saved(path)
    tracker = Parents(p1="KILLED")
    assert resume.find_resumable(tracker, IDENTITY, path, "exp.yaml").parent_run_id == "p1"
    other = SweepIdentity("d" * 16, IDENTITY.search, IDENTITY.setup)
    with pytest.raises(resume.ResumeError, match="exp.yaml: the experiment changed"):
        resume.find_resumable(tracker, other, path, "exp.yaml")
    assert resume.find_resumable(Parents(p1="FINISHED"), IDENTITY, path, "exp.yaml") is None
    assert resume.find_resumable(Parents(), IDENTITY, path, "exp.yaml") is None  # deleted


def test_a_finished_sweep_is_extended_by_more_trials_of_the_same_search(tmp_path: Path) -> None:
    path = tmp_path / "exp.trials.pkl"
    saved(resume.done_path(path), max_evals=3)
    tracker = Parents(p1="FINISHED")
    longer = SweepIdentity("e" * 16, IDENTITY.search, "v" * 16)  # (max_evals differs)
    state = resume.find_extendable(tracker, longer, path, max_evals=5)
    assert (state.parent_run_id, state.max_evals, state.search_until) == ("p1", 5, 2)
    assert state.identity == longer  # the longer run's identity from here on
    assert resume.find_extendable(tracker, longer, path, max_evals=3) is None  # no more
    other = SweepIdentity("e" * 16, "t" * 16, "v" * 16)
    assert resume.find_extendable(tracker, other, path, max_evals=5) is None
    assert resume.find_extendable(Parents(p1="KILLED"), longer, path, max_evals=5) is None


def test_finish_keeps_the_trials_and_the_search_budget_for_a_longer_run(tmp_path: Path) -> None:
    path = tmp_path / "exp.trials.pkl"
    saved(path)
    resume.finish(path, resume.load(path), max_evals=4)
    assert not path.exists()
    done = resume.load(resume.done_path(path))
    assert (done.max_evals, done.identity) == (4, IDENTITY)


def test_an_older_state_file_with_one_config_hash_still_resumes_and_extends(
    tmp_path: Path,
) -> None:
    """Written before the identity had parts: its one hash was the whole config's in an
    interrupted sweep's file and the search's in a finished one's."""
    path = tmp_path / "exp.trials.pkl"
    old = resume.SweepState("exp", "p1", IDENTITY, Trials())
    fields = dict(vars(old))
    del fields["identity"], fields["keyed_on"]
    old.__dict__.clear()
    old.__dict__.update(fields, config_hash=IDENTITY.config)
    path.write_bytes(pickle.dumps(old))
    state = resume.load(path)
    assert state.identity.config == IDENTITY.config and state.keyed_on == resume.KEYED_ON
    assert resume.find_resumable(Parents(p1="KILLED"), IDENTITY, path, "x").parent_run_id == "p1"
    old.__dict__.update(config_hash=IDENTITY.search, max_evals=2)
    resume.done_path(path).write_bytes(pickle.dumps(old))
    extended = resume.find_extendable(Parents(p1="FINISHED"), IDENTITY, path, max_evals=4)
    assert extended is not None and extended.search_until == 2


def test_a_state_saved_before_the_sub_packages_still_resumes(tmp_path: Path) -> None:
    """Saved when SweepState lived in sweep.resume: read back as this version's."""
    path = tmp_path / "exp.trials.pkl"
    state = resume.SweepState("exp", "p1", IDENTITY, Trials())
    text = pickle.dumps(state, protocol=0)  # (module names as text lines)
    assert b"sweep.search._state\n" in text
    path.write_bytes(text.replace(b"sweep.search._state\n", b"sweep.resume\n"))
    back = resume.load(path)
    assert isinstance(back, resume.SweepState) and back.identity == IDENTITY
    assert resume.find_resumable(Parents(p1="KILLED"), IDENTITY, path, "x").parent_run_id == "p1"
