from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from support import tiny_splits
from sweep import names as M
from sweep.config import (
    EarlyStoppingConfig,
    MLPConfig,
    OptimizerConfig,
    SchedulerConfig,
    TrainConfig,
)
from sweep.train import (
    MEAN,
    STD,
    DivergedError,
    augment,
    build_model,
    choose_device,
    evaluate,
    fit,
    resolve_precision,
    to_input,
)


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(MLPConfig(hidden=(32,), dropout=0.0))


def test_fit_learns_and_reports_every_epoch() -> None:
    seen: list[tuple[int, dict]] = []
    result = fit(
        mlp(),
        tiny_splits(),
        TrainConfig(epochs=3, batch_size=50),
        on_epoch=lambda e, m: seen.append((e, m)),
    )
    assert [e for e, _ in seen] == [1, 2, 3]
    assert all(set(m) == set(M.EPOCH_METRICS) for _, m in seen)
    assert result.epochs_run == 3 and result.model_epoch == 3
    assert result.val_accuracy > 0.9
    assert result.history[-1][M.TRAIN_LOSS] < result.history[0][M.TRAIN_LOSS]


def test_same_seed_same_result() -> None:
    cfg = TrainConfig(epochs=2, batch_size=64, seed=3)
    a = fit(mlp(), tiny_splits(), cfg)
    b = fit(mlp(), tiny_splits(), cfg)
    assert a.history == b.history


def test_step_lr_halves_every_step_size_epochs() -> None:
    cfg = TrainConfig(
        epochs=5, batch_size=100, scheduler=SchedulerConfig(name="step", step_size=2, gamma=0.5)
    )
    result = fit(mlp(), tiny_splits(), cfg)
    lrs = [h[M.LR] for h in result.history]
    assert lrs == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])


def test_plateau_reduces_lr_when_val_loss_stalls() -> None:
    cfg = TrainConfig(
        epochs=6,
        batch_size=50,
        optimizer=OptimizerConfig(lr=1e-2),
        scheduler=SchedulerConfig(name="plateau", factor=0.5, patience=0),
    )
    result = fit(mlp(), tiny_splits(random_labels=True), cfg)
    lrs = [h[M.LR] for h in result.history]
    assert lrs[0] == pytest.approx(1e-2)
    assert min(lrs) < 1e-2  # random labels: validation loss stops improving


def test_early_stopping_restores_the_best_epoch() -> None:
    splits = tiny_splits(random_labels=True)
    cfg = TrainConfig(
        epochs=30,
        batch_size=50,
        optimizer=OptimizerConfig(lr=1e-2),
        early_stopping=EarlyStoppingConfig(monitor="val_loss", patience=2),
    )
    model = mlp()
    result = fit(model, splits, cfg)
    assert result.stopped_early and result.epochs_run < 30
    losses = [h[M.VAL_LOSS] for h in result.history]
    assert result.model_epoch == int(np.argmin(losses)) + 1
    assert result.epochs_run == result.model_epoch + 2
    again = evaluate(model, torch.from_numpy(splits.x_val), torch.from_numpy(splits.y_val))
    assert again.loss == pytest.approx(min(losses), rel=1e-4)
    assert result.val_loss == pytest.approx(min(losses))


def test_sgd_with_momentum_trains() -> None:
    cfg = TrainConfig(
        epochs=2, batch_size=50, optimizer=OptimizerConfig(name="sgd", lr=0.05, momentum=0.9)
    )
    assert fit(mlp(), tiny_splits(), cfg).val_accuracy > 0.8


def test_pixels_enter_standardized_or_in_unit_range() -> None:
    x = torch.tensor([[[0, 255]]], dtype=torch.uint8).expand(1, 28, 2)
    unit = to_input(x, channels_last=False, pixels="unit")
    assert unit.shape == (1, 1, 28, 2) and unit.min() == 0.0 and unit.max() == 1.0
    standard = to_input(x, channels_last=False)
    assert torch.allclose(standard, (unit - MEAN) / STD)


def test_a_model_trained_on_unit_pixels_is_scored_on_unit_pixels() -> None:
    """fit() and evaluate() use the same preprocessing: scored again with it, the model's
    validation accuracy is the one fit() reported."""
    splits = tiny_splits()
    model = mlp()
    result = fit(model, splits, TrainConfig(epochs=2, batch_size=50, pixels="unit"))
    assert result.val_accuracy > 0.8
    x, y = torch.from_numpy(splits.x_val), torch.from_numpy(splits.y_val)
    assert evaluate(model, x, y, pixels="unit").accuracy == pytest.approx(result.val_accuracy)


def test_nan_loss_raises_diverged() -> None:
    model = mlp()
    with torch.no_grad():
        model[1].weight.fill_(float("nan"))
    with pytest.raises(DivergedError, match="nan"):
        fit(model, tiny_splits(), TrainConfig(epochs=2, batch_size=100))


def test_augment_flips_and_shifts_without_loops() -> None:
    x = torch.arange(28 * 28, dtype=torch.float32).reshape(1, 28, 28).repeat(64, 1, 1)
    gen = torch.Generator().manual_seed(0)
    flipped = augment(x, hflip=True, pad=0, gen=gen)
    same = (flipped == x).flatten(1).all(1)
    mirrored = (flipped == x.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and same.any() and mirrored.any()
    shifted = augment(x, hflip=False, pad=2, gen=gen)
    assert shifted.shape == x.shape
    assert not torch.equal(shifted, x)


def test_device_and_precision_choice() -> None:
    assert choose_device("cpu").type == "cpu"
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert resolve_precision("auto", torch.device("cpu")) in ("fp32", "bf16")
    assert resolve_precision("auto", torch.device("mps")) == "fp32"


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_on_a_cpu_follows_the_bf16_check(monkeypatch, native: bool) -> None:
    from sweep.train import _devices as train

    monkeypatch.setattr(train, "cpu_runs_bf16", lambda: native)
    assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if native else "fp32")


def test_the_cpu_model_is_the_name_its_maker_gives(tmp_path) -> None:
    from sweep.train import cpu_model

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n" * 2)
    assert cpu_model(info) == "AMD EPYC 9R14 96-Core Processor"
    info.write_text("processor\t: 0\nflags\t\t: fpu\n")  # (no model name: the architecture)
    assert cpu_model(info) and cpu_model(tmp_path / "no-such-file")


def test_the_bf16_check_reads_the_cpu_flags(tmp_path, monkeypatch) -> None:
    """An AMD EPYC (Zen 4) lists avx512_bf16, though PyTorch's capability says AVX512."""
    from sweep.train import cpu_runs_bf16

    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    zen4, older = tmp_path / "zen4", tmp_path / "older"
    zen4.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n")
    older.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    assert cpu_runs_bf16(zen4) and not cpu_runs_bf16(older)
    # no /proc/cpuinfo (macOS, Windows): PyTorch's CPU probe answers
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not cpu_runs_bf16(tmp_path / "no-such-file")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert cpu_runs_bf16(tmp_path / "no-such-file")


def test_fit_resumed_from_a_checkpoint_matches_an_uninterrupted_fit() -> None:
    """2 epochs, a checkpoint, then 4 more from it in a new process's shoes (new model,
    other random state): the history and weights of 6 epochs straight, with dropout,
    augmentation, StepLR and early stopping with restore-best."""
    from sweep.config import AugmentConfig

    cfg = TrainConfig(
        epochs=6,
        batch_size=50,
        scheduler=SchedulerConfig(name="step", step_size=2, gamma=0.5),
        early_stopping=EarlyStoppingConfig(monitor="val_accuracy", patience=5, restore_best=True),
        augment=AugmentConfig(hflip=True, crop_padding=2),
        seed=3,
    )
    splits = tiny_splits(400)

    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(MLPConfig(hidden=(32,), dropout=0.3))

    straight = model()
    whole = fit(straight, splits, cfg)
    states: list[dict] = []
    keep = lambda state: states.append(copy.deepcopy(state))  # noqa: E731 (as torch.save would)
    fit(model(), splits, cfg, checkpoint=keep, should_stop=lambda: len(states) == 2)
    torch.manual_seed(12345)  # whatever the new process's random state is
    resumed = model()
    rest = fit(resumed, splits, cfg, resume_from=states[1])
    assert states[1]["epoch"] == 2 and rest.epochs_run == 6
    assert [h[M.TRAIN_LOSS] for h in rest.history] == pytest.approx(
        [h[M.TRAIN_LOSS] for h in whole.history], rel=1e-6
    )
    assert rest.model_epoch == whole.model_epoch and rest.val_accuracy == whole.val_accuracy
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_fit_stops_where_the_pruner_says() -> None:
    asked: list[int] = []

    def prune(epoch: int, values: dict) -> bool:
        asked.append(epoch)
        return epoch == 2

    states: list[dict] = []
    keep = lambda state: states.append(copy.deepcopy(state))  # noqa: E731
    cfg = TrainConfig(epochs=5, batch_size=50)
    result = fit(mlp(), tiny_splits(), cfg, should_prune=prune, checkpoint=keep)
    assert result.pruned_at == 2 and result.epochs_run == 2 and asked == [1, 2]
    assert not result.interrupted and not result.stopped_early
    # the verdict is in the checkpoint: cut off after it, the trial does not train on
    assert [s["ended"] for s in states] == [None, "pruned"]
    again = fit(mlp(), tiny_splits(), cfg, should_prune=prune, resume_from=states[-1])
    assert again.pruned_at == 2 and again.history == result.history and asked == [1, 2]
    assert again.val_accuracy == result.val_accuracy


def test_a_finished_training_is_not_trained_again_from_its_checkpoint() -> None:
    """The last epoch's checkpoint says the training ended: a trial cut off during its
    test evaluation goes on to it with the same weights, no epoch trained twice."""
    states: list[dict] = []
    keep = lambda state: states.append(copy.deepcopy(state))  # noqa: E731
    cfg = TrainConfig(epochs=3, batch_size=50, seed=1)
    first = mlp()
    done = fit(first, tiny_splits(), cfg, checkpoint=keep)
    assert [s["ended"] for s in states] == [None, None, "done"]
    epochs: list[int] = []
    second = mlp()
    again = fit(
        second, tiny_splits(), cfg, resume_from=states[-1], on_epoch=lambda e, _: epochs.append(e)
    )
    assert epochs == [] and again.history == done.history and again.epochs_run == 3
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
