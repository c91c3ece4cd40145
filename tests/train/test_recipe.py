"""The fast recipe's parts, each on tiny data: the per-batch schedules' learning rate at
every step, label smoothing's loss, test-time augmentation's average, random erasing's and
cutout's masks, the weights' moving average, SGD's Nesterov momentum and decoupled decay,
the residual network, and a resumed fit with all of them equal to an uninterrupted one."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from support import tiny_splits
from sweep import names as M
from sweep.config import (
    AugmentConfig,
    ConfigError,
    MLPConfig,
    OptimizerConfig,
    ResNetConfig,
    SchedulerConfig,
    TrainConfig,
    validate,
)
from sweep.train import build_model, count_parameters
from sweep.train._augment import cutout, erase
from sweep.train._fit import _averaged, fit
from sweep.train._optim import batches_per_epoch, decay_weights, make_optimizer, make_scheduler
from sweep.train._scoring import evaluate, predict_logits, to_input


def lrs(scheduler_cfg: SchedulerConfig, epochs: int, steps: int, lr: float = 0.1) -> list[float]:
    """The learning rate of every optimizer step of a run."""
    cfg = TrainConfig(epochs=epochs, optimizer=OptimizerConfig(lr=lr), scheduler=scheduler_cfg)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make_scheduler(opt, cfg, steps)
    out = []
    for _ in range(epochs * steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_onecycle_rises_over_its_warmup_then_falls_to_its_floor() -> None:
    seen = lrs(SchedulerConfig(name="onecycle", warmup=0.25, anneal="linear"), 4, 10)
    assert len(seen) == 40
    assert seen[0] == pytest.approx(0.1 / 25)  # torch's div_factor
    peak = max(range(40), key=seen.__getitem__)
    assert peak == 9 and seen[peak] == pytest.approx(0.1)  # the end of 25% of 40 steps
    assert all(a < b for a, b in zip(seen[:peak], seen[1 : peak + 1], strict=True))
    assert all(a > b for a, b in zip(seen[peak:], seen[peak + 1 :], strict=False))
    assert seen[-1] == pytest.approx(0.1 / 25 / 1e4)  # its final_div_factor


def test_cosine_warms_up_linearly_then_follows_a_half_cosine_to_min_lr() -> None:
    steps, warm = 20, 5  # 0.25 of 20
    seen = lrs(SchedulerConfig(name="cosine", warmup=0.25, min_lr=1e-3), 2, 10)
    for step in range(warm):
        assert seen[step] == pytest.approx(0.1 * (step + 1) / (warm + 1))
    for step in range(warm, steps):
        done = (step - warm) / (steps - warm)
        want = 1e-3 + (0.1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * done))
        assert seen[step] == pytest.approx(want)


def test_a_per_batch_schedule_spans_exactly_the_steps_fit_takes() -> None:
    cfg = TrainConfig(
        epochs=3,
        batch_size=64,
        optimizer=OptimizerConfig(lr=0.01),
        scheduler=SchedulerConfig(name="onecycle"),
    )
    splits = tiny_splits(301)  # 301 - 10% validation: a tail batch that is trained
    torch.manual_seed(0)
    result = fit(build_model(MLPConfig(hidden=(16,))), splits, cfg)  # (more steps: an error)
    assert result.epochs_run == 3 and len(result.history) == 3
    assert batches_per_epoch(129, 64) == 2 and batches_per_epoch(130, 64) == 3
    assert batches_per_epoch(1, 64) == 1
    lr = [h[M.LR] for h in result.history]
    assert lr[0] == pytest.approx(0.01 / 25) and lr[1] > lr[0]


def test_label_smoothing_is_the_training_loss_and_validation_stays_plain() -> None:
    splits = tiny_splits(200)
    x, y = torch.from_numpy(splits.x_train), torch.from_numpy(splits.y_train)
    torch.manual_seed(0)
    model = build_model(MLPConfig(hidden=(16,), dropout=0.0, batchnorm=False))
    logits = model(to_input(x, channels_last=False))
    smooth = torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.2).item()
    plain = torch.nn.functional.cross_entropy(logits, y).item()
    # one batch of all images, a learning rate too small to move the weights
    cfg = TrainConfig(
        epochs=1,
        batch_size=len(x),
        optimizer=OptimizerConfig(lr=1e-12),
        label_smoothing=0.2,
        precision="fp32",
    )
    result = fit(model, splits, cfg)
    assert result.history[0][M.TRAIN_LOSS] == pytest.approx(smooth, rel=1e-5)
    assert smooth != pytest.approx(plain)
    x_val, y_val = torch.from_numpy(splits.x_val), torch.from_numpy(splits.y_val)
    val = evaluate(model, x_val, y_val)
    assert result.history[0][M.VAL_LOSS] == pytest.approx(val.loss, rel=1e-6)  # no smoothing


def tta_case() -> tuple[torch.Tensor, torch.Tensor, torch.nn.Module, torch.Tensor]:
    """50 test images and labels, a small residual network, and the images as it sees them."""
    splits = tiny_splits(100)
    x, y = torch.from_numpy(splits.x_test[:50]), torch.from_numpy(splits.y_test[:50])
    torch.manual_seed(0)
    model = build_model(ResNetConfig(stem=4, widths=(8,), blocks=1)).eval()
    return x, y, model, to_input(x, channels_last=False)


def test_flip_tta_averages_the_softmax_of_image_and_mirror_image() -> None:
    x, y, model, inputs = tta_case()
    with torch.no_grad():
        mean = (model(inputs).softmax(1) + model(inputs.flip(-1)).softmax(1)) / 2
        got = predict_logits(model, inputs, ("hflip",))
    assert torch.allclose(got.softmax(1), mean, atol=1e-6)
    scored = evaluate(model, x, y, tta=("hflip",))
    assert (scored.predictions == mean.argmax(1).numpy()).all()
    want = torch.nn.functional.nll_loss(mean.log(), y).item()
    assert scored.loss == pytest.approx(want, rel=1e-5)
    assert evaluate(model, x, y).loss != pytest.approx(scored.loss)  # (one view differs)


def test_translate_tta_adds_each_view_shifted_one_pixel_both_ways() -> None:
    from sweep.train._scoring import shifted, views

    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    down = shifted(x, 1, 1)
    assert torch.equal(down[..., 1:, 1:], x[..., :-1, :-1])  # moved down and right
    assert torch.equal(down[..., 0, 1:], x[..., 0, :-1]) and torch.equal(
        down[..., 0, 0], x[..., 0, 0]
    )
    up = shifted(x, -1, -1)
    assert torch.equal(up[..., :-1, :-1], x[..., 1:, 1:])
    assert torch.equal(up[..., -1, -1], x[..., -1, -1])  # (the edge repeated)
    assert len(views(x, ("translate",))) == 3 and len(views(x, ("hflip", "translate"))) == 6
    assert torch.equal(views(x, ("hflip", "translate"))[4], shifted(x.flip(-1), 1, 1))

    xt, yt, model, inputs = tta_case()
    with torch.no_grad():
        both = views(inputs, ("hflip", "translate"))
        mean = torch.stack([model(v).softmax(1) for v in both]).mean(0)
        got = predict_logits(model, inputs, ("hflip", "translate"))
    assert torch.allclose(got.softmax(1), mean, atol=1e-6)
    scored = evaluate(model, xt, yt, tta=("translate", "hflip"))
    assert (scored.predictions == mean.argmax(1).numpy()).all()


def test_random_erasing_fills_one_rectangle_of_the_stated_size_with_noise() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.full((200, 28, 28), 7, dtype=torch.uint8)
    out = erase(x, 1.0, gen)
    changed = out != 7
    for mask in changed:  # one rectangle: its rows and columns are contiguous
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert rows.numel() and cols.numel()
        assert rows[-1] - rows[0] + 1 == rows.numel() and cols[-1] - cols[0] + 1 == cols.numel()
        area = rows.numel() * cols.numel()
        assert 0.01 * 784 <= area <= 0.45 * 784  # 2-40% of the image, after rounding
        assert mask.sum() >= 0.9 * area  # noise (a pixel may draw 7 by chance)
    assert torch.equal(erase(x, 0.0, gen), x)  # probability 0: nothing erased
    some = erase(x, 0.5, gen)
    erased = (some != 7).flatten(1).any(1).float().mean().item()
    assert 0.35 < erased < 0.65
    again = erase(x, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(again, out)  # the generator decides: resumable, reproducible


def test_cutout_zeroes_one_square_per_image() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.full((300, 28, 28), 9, dtype=torch.uint8)
    out = cutout(x, 8, gen)
    zeros = (out == 0).flatten(1).sum(1)
    assert zeros.max() == 64 and zeros.min() >= 16  # at a corner, a quarter stays inside
    assert ((out == 0) | (out == 9)).all()


def test_the_moving_average_of_the_weights_follows_torch_s_rule() -> None:
    model = torch.nn.Linear(2, 1, bias=False)
    ema = _averaged(model, 0.75)
    with torch.no_grad():
        model.weight.fill_(1.0)
        ema.update_parameters(model)  # the first update copies
        model.weight.fill_(3.0)
        ema.update_parameters(model)
    assert torch.allclose(ema.module.weight, torch.full((1, 2), 0.75 * 1.0 + 0.25 * 3.0))
    assert _averaged(model, None) is None


def test_fit_with_ema_validates_and_returns_the_averaged_weights() -> None:
    splits = tiny_splits(400)
    cfg = TrainConfig(epochs=2, batch_size=50, ema=0.9, optimizer=OptimizerConfig(lr=0.01))
    torch.manual_seed(0)
    averaged = build_model(MLPConfig(hidden=(16,)))
    result = fit(averaged, splits, cfg)
    torch.manual_seed(0)  # (dropout draws from torch's own generator)
    raw = build_model(MLPConfig(hidden=(16,)))
    plain = fit(raw, splits, cfg.model_copy(update={"ema": None}))
    x_val, y_val = torch.from_numpy(splits.x_val), torch.from_numpy(splits.y_val)
    scored = evaluate(averaged, x_val, y_val, precision=result.precision)
    assert result.history[-1][M.VAL_ACCURACY] == scored.accuracy  # what was validated
    # the same training steps: the raw weights' run differs only in what is returned
    assert [h[M.TRAIN_LOSS] for h in result.history] == [h[M.TRAIN_LOSS] for h in plain.history]
    assert not torch.equal(averaged[1].weight, raw[1].weight)


def test_sgd_with_nesterov_and_decoupled_weight_decay() -> None:
    model = torch.nn.Linear(2, 1)
    cfg = TrainConfig(
        optimizer=OptimizerConfig(
            name="sgd", lr=0.1, nesterov=True, weight_decay=0.5, decoupled_weight_decay=True
        )
    )
    opt = make_optimizer(model, cfg)
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["weight_decay"] == 0.0
    with torch.no_grad():
        model.weight.fill_(2.0)
    decay_weights(opt, 0.5)
    assert torch.allclose(model.weight, torch.full((1, 2), 2.0 * (1 - 0.1 * 0.5)))
    coupled = make_optimizer(
        model, TrainConfig(optimizer=OptimizerConfig(name="sgd", weight_decay=0.5))
    )
    assert coupled.param_groups[0]["weight_decay"] == 0.5


@pytest.mark.parametrize(
    ("tree", "words"),
    [
        ({"train": {"optimizer": {"name": "adam", "nesterov": True}}}, "SGD's"),
        ({"train": {"optimizer": {"name": "sgd", "momentum": 0.0, "nesterov": True}}}, "momentum"),
        ({"train": {"scheduler": {"name": "onecycle", "warmup": 0.0}}}, "warmup > 0"),
        ({"eval": {"tta": ["vflip"]}}, "eval.tta"),
        ({"eval": {"tta": ["hflip", "hflip"]}}, "once each"),
        ({"model": {"kind": "resnet", "widths": [8, 8, 8, 8, 8]}}, "model.widths"),
        ({"model": {"kind": "resnet", "widths": [8, 8, 8, 8], "stem_pool": True}}, "at most 3"),
    ],
)
def test_the_recipe_s_keys_are_validated(tree: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("+", r"\+")):
        validate({"name": "recipe", **tree}, "recipe.yaml")


def test_the_residual_network_maps_images_to_logits_with_its_parameter_count() -> None:
    model = build_model(ResNetConfig())
    assert count_parameters(model) == 463_594  # the speed-run-style network of exp15
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    small = build_model(ResNetConfig(stem=8, widths=(16, 32, 64, 128), blocks=0, pool="avg"))
    assert small(torch.zeros(2, 1, 28, 28)).shape == (2, 10)  # 4 stages: 28 -> 1
    # stem 1*8*9 + BN 16; each stage conv + BN; no pairs; linear 128*10 + 10
    convs = (
        8 * 9 + 16 + sum(a * b * 9 + 2 * b for a, b in [(8, 16), (16, 32), (32, 64), (64, 128)])
    )
    assert count_parameters(small) == convs + 1290


def test_a_resumed_fit_with_the_whole_recipe_matches_an_uninterrupted_one() -> None:
    """onecycle stepped per batch, label smoothing, flips, shifts, erasing, cutout, TTA and
    EMA: 2 epochs, a checkpoint, 2 more in a new model equal 4 epochs straight."""
    cfg = TrainConfig(
        epochs=4,
        batch_size=50,
        optimizer=OptimizerConfig(name="adamw", lr=3e-3, weight_decay=0.01),
        scheduler=SchedulerConfig(name="onecycle", warmup=0.25),
        label_smoothing=0.1,
        augment=AugmentConfig(hflip=True, crop_padding=2, random_erasing=0.5, cutout=6),
        ema=0.9,
        seed=5,
    )
    splits = tiny_splits(400)

    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(ResNetConfig(stem=4, widths=(8,), blocks=1))

    straight = model()
    whole = fit(straight, splits, cfg, tta=("hflip",))
    states: list[dict] = []
    keep = lambda state: states.append(copy.deepcopy(state))  # noqa: E731
    fit(
        model(), splits, cfg, checkpoint=keep, should_stop=lambda: len(states) == 2, tta=("hflip",)
    )
    torch.manual_seed(999)
    resumed = model()
    rest = fit(resumed, splits, cfg, resume_from=states[1], tta=("hflip",))
    assert [h[M.TRAIN_LOSS] for h in rest.history] == pytest.approx(
        [h[M.TRAIN_LOSS] for h in whole.history], rel=1e-5
    )
    assert [h[M.LR] for h in rest.history] == pytest.approx([h[M.LR] for h in whole.history])
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)


def test_a_stem_pool_runs_the_stages_at_half_the_side_for_a_quarter_of_the_work() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    def multiply_adds(cfg: ResNetConfig) -> int:
        model = build_model(cfg).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
        return counter.get_total_flops() // 2

    full, pooled = ResNetConfig(), ResNetConfig(stem_pool=True)
    assert multiply_adds(full) == 58_029_824  # exp15's network
    assert multiply_adds(pooled) == 13_719_296  # the stem at 28 x 28, the rest at a quarter
    assert count_parameters(build_model(pooled)) == count_parameters(build_model(full))
    three = build_model(ResNetConfig(stem=8, widths=(8, 8, 8), blocks=0, stem_pool=True))
    assert three(torch.zeros(2, 1, 28, 28)).shape == (2, 10)  # 14 -> 7 -> 3 -> 1


def test_a_whitened_stem_decorrelates_the_patches_and_stays_as_set() -> None:
    from sweep.train._models import whitening_filters

    splits = tiny_splits(300)
    images = to_input(torch.from_numpy(splits.x_train), channels_last=False)
    filters = whitening_filters(images, 18)
    assert filters.shape == (18, 1, 3, 3)
    assert torch.allclose(filters[1::2], -filters[0::2])  # each eigenvector and its negative
    out = torch.nn.functional.conv2d(images, filters[0::2]).permute(1, 0, 2, 3).reshape(9, -1)
    cov = torch.cov(out.double())
    eye = torch.eye(9, dtype=torch.double)
    assert torch.allclose(cov * (cov.diagonal() > 0.5), eye * (cov.diagonal() > 0.5), atol=0.02)
    assert (cov - torch.diag(cov.diagonal())).abs().max() < 0.02  # decorrelated

    cfg = ResNetConfig(stem=12, widths=(8,), blocks=0, whiten=True)
    torch.manual_seed(0)
    model = build_model(cfg)
    train = TrainConfig(epochs=1, batch_size=64, precision="fp32")
    fit(model, splits, train)
    stem = model.features[0].weight
    assert torch.allclose(stem, whitening_filters(images[:10_000], 12), atol=1e-6)
    assert not stem.requires_grad  # (trained around, not trained)
    with pytest.raises(ConfigError, match="at most 18"):
        validate({"name": "w", "model": {"kind": "resnet", "stem": 32, "whiten": True}}, "w.yaml")


def test_alternate_flips_show_every_image_both_ways_in_every_two_epochs() -> None:
    from sweep.train._fit import _make_loop

    cfg = TrainConfig(augment={"hflip": "alternate"}, precision="fp32", seed=3)
    model = build_model(ResNetConfig(stem=4, widths=(8,), blocks=0))
    loop, _ = _make_loop(model, cfg, torch.device("cpu"), 40, ())
    x = torch.arange(28, dtype=torch.uint8).expand(40, 28, 28).contiguous()  # asymmetric
    idx = torch.arange(40).flip(0)
    flipped = [(loop._augmented(x[idx], idx, e)[:, 0, 0] == 27) for e in (1, 2, 3, 4)]
    assert 10 < int(flipped[0].sum()) < 30  # about half, at random, in the first epoch
    assert torch.equal(flipped[1], ~flipped[0]) and torch.equal(flipped[2], flipped[0])
    again, _ = _make_loop(model, cfg, torch.device("cpu"), 40, ())  # (a resumed run)
    assert torch.equal(again._augmented(x[idx], idx, 4)[:, 0, 0] == 27, flipped[3])
    validate({"name": "a", "train": {"augment": {"hflip": "alternate"}}}, "a.yaml")
    with pytest.raises(ConfigError, match="train.augment.hflip"):
        validate({"name": "a", "train": {"augment": {"hflip": "sometimes"}}}, "a.yaml")


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "step"])
def test_batchnorm_trains_at_its_own_learning_rate_under_every_schedule(schedule) -> None:
    from sweep.train._optim import make_optimizer, make_scheduler

    model = build_model(ResNetConfig(stem=4, widths=(8,), blocks=1))
    base = TrainConfig(epochs=3, scheduler={"name": schedule, "step_size": 1})
    plain = make_optimizer(model, base)
    assert len(plain.param_groups) == 1  # (the default: one group, as before)
    cfg = base.model_copy(update={"optimizer": OptimizerConfig(lr=0.01, bn_lr_scale=8.0)})
    opt = make_optimizer(model, cfg)
    rest, bn = opt.param_groups
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert {id(p) for p in bn["params"]} == {id(p) for m in norms for p in m.parameters()}
    assert len(rest["params"]) + len(bn["params"]) == len(list(model.parameters()))
    scheduler = make_scheduler(opt, cfg, steps=5)
    for _ in range(7):
        opt.step()
        scheduler.step()
        assert bn["lr"] == pytest.approx(8.0 * rest["lr"])
    assert rest["lr"] != pytest.approx(0.01)  # (the schedule moved it)


def test_identity_init_passes_channels_through_and_bn_momentum_is_set() -> None:
    torch.manual_seed(0)
    plain = build_model(ResNetConfig(stem=4, widths=(8, 16), blocks=1))
    torch.manual_seed(0)
    model = build_model(ResNetConfig(stem=4, widths=(8, 16), blocks=1, identity_init=True))
    convs = [m for m in model.features.modules() if isinstance(m, torch.nn.Conv2d)]
    before = [m for m in plain.features.modules() if isinstance(m, torch.nn.Conv2d)]
    assert torch.equal(convs[0].weight, before[0].weight)  # the stem keeps its own
    stage = convs[1]  # 4 channels in, 8 filters: the first 4 are the identity
    x = torch.randn(2, 4, 5, 5)
    out = torch.nn.functional.conv2d(x, stage.weight, padding=1)
    assert torch.allclose(out[:, :4], x) and torch.equal(stage.weight[4:], before[1].weight[4:])
    pair = convs[2]  # 8 in, 8 out: all the identity
    y = torch.randn(2, 8, 5, 5)
    assert torch.allclose(torch.nn.functional.conv2d(y, pair.weight, padding=1), y)
    fast = build_model(ResNetConfig(stem=4, widths=(8,), bn_momentum=0.6))
    norms = [m for m in fast.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.momentum == 0.6 for m in norms)
    assert all(m.momentum == 0.1 for m in plain.modules() if isinstance(m, torch.nn.BatchNorm2d))
