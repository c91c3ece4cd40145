"""``python -m sweep predict MODEL --out FILE``: a logged model scores images.

MODEL is ``models:/NAME@best`` (the sweep's selected configuration), ``models:/NAME/VERSION``
or the id of the run that logged it. The predictions file has one label per line, in the
order of the images (the test set's unless ``--images``); where the labels are known, the
accuracy and the per-class report are printed and the confusion matrix is saved next to it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from .faults import first_line
from .store import DEFAULT_TRACKING_URI, existing, shown

RUN_ID = re.compile(r"[0-9a-f]{32}")


class PredictError(Exception):
    """A model or an input that cannot be used, explained in one paragraph."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sweep predict",
        description="Score images with a model a sweep logged; write one label per line.",
    )
    p.add_argument("model", help="models:/NAME@best, models:/NAME/VERSION, or a run id")
    p.add_argument("--out", required=True, help="the predictions file to write")
    p.add_argument("--images", help="an IDX images file (default: the 10,000 test images)")
    p.add_argument("--labels", help="its IDX labels file, for the accuracy and the report")
    p.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    p.add_argument("--tracking-uri", help=f"the store (default {DEFAULT_TRACKING_URI})")
    p.add_argument("--batch-size", type=_positive, default=1000, help="images per forward pass")
    args = p.parse_args(argv)
    if args.labels and not args.images:
        p.error("--labels goes with --images (the test set's labels are known)")
    return args


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def model_uri(model: str, client: Any) -> str:
    """``models:/...`` as given; a run id: the model that run logged."""
    if model.startswith(("models:/", "runs:/")):
        return model
    if not RUN_ID.fullmatch(model):
        raise PredictError(
            f"MODEL {model!r} is neither models:/NAME@ALIAS, models:/NAME/VERSION nor a run id."
        )
    outputs = client.get_run(model).outputs
    logged = [o.model_id for o in (outputs.model_outputs if outputs else [])]
    if not logged:
        raise PredictError(
            f"run {model} logged no model; the sweep logs one for its selected trial "
            "(models:/EXPERIMENT@best)."
        )
    return f"models:/{logged[-1]}"


def images_and_labels(args: argparse.Namespace) -> tuple[Any, Any]:
    from .data import TEST_IMAGES, TEST_LABELS, find_data_dir, load_arrays, read_idx

    if args.images:
        for name in (args.images, args.labels):
            if name and not Path(name).is_file():
                raise PredictError(f"{name}: no such file (--images/--labels take IDX files).")
        images = read_idx(Path(args.images), 2051)
        labels = read_idx(Path(args.labels), 2049, len(images)) if args.labels else None
        return images, labels
    arrays = load_arrays(find_data_dir(args.data_dir))
    return arrays[TEST_IMAGES], arrays[TEST_LABELS]


def predict(model: Any, images: Any, batch_size: int) -> Any:
    """Labels for uint8 images ``[N, 28, 28]`` (the model takes float pixels 0-255)."""
    import numpy as np
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size, None].astype(np.float32)
            out.append(model(torch.from_numpy(batch)).argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def report(labels: Any, predicted: Any, out: Path) -> str:
    """Accuracy and the per-class report (text), and the confusion matrix next to ``out``."""
    from . import evaluation, plots

    figure = plots.confusion_matrix_figure(
        evaluation.confusion(labels, predicted), f"{out.name}: confusion matrix"
    )
    figure.savefig(out.with_name(out.stem + "_confusion_matrix.png"), dpi=100)
    return evaluation.summary_text(labels, predicted)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    uri = existing(args.tracking_uri)
    if uri is None:
        return 2
    from .console import quiet_libraries

    quiet_libraries()
    import mlflow
    import mlflow.pytorch
    from mlflow.exceptions import MlflowException

    from . import evaluation
    from .data import DataError

    mlflow.set_tracking_uri(uri)
    try:
        source = model_uri(args.model, mlflow.MlflowClient(uri))
        model = mlflow.pytorch.load_model(source, map_location="cpu")  # (an exported graph)
        images, labels = images_and_labels(args)
    except (PredictError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MlflowException as exc:
        first = first_line(exc)
        print(f"error: no model {args.model} in {shown(uri)} ({first}).", file=sys.stderr)
        return 2
    predicted = predict(model, images, args.batch_size)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(evaluation.predictions_text(predicted))
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror or exc}.", file=sys.stderr)
        return 2
    print(f"wrote {len(predicted)} predictions to {out} ({source})", file=sys.stderr)
    if labels is not None:
        print(report(labels, predicted, out))
    return 0
