"""``python -m sweep predict MODEL --out FILE``: a logged model scores images.

MODEL is ``models:/NAME@best`` (the sweep's selected configuration), ``models:/NAME/VERSION``
or the id of the run that logged it. The predictions file has one label per line, in the
order of the images (the test set's unless ``--images``); where the labels are known, the
accuracy and the per-class report are printed and the confusion matrix is saved next to it.

It reads the store and never writes to it (the model is copied into a temporary folder).
Exit statuses: 2 bad input (a flag, the store's URI, a store that is missing or no MLflow
store, a MODEL that names nothing in it, an --out that cannot be written, an --images or
--labels file that is missing or no IDX file of 28x28 images), 1 the store answered with an
error or the test set's files are missing or broken, 3 the predictions' write refused for
want of room or permission.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from ..faults import first_line
from ..names import DEFAULT_TRACKING_URI
from ._shell import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    Parser,
    error,
    file_and_store,
    nonblank,
    reading,
    store_answered,
    write_failed,
)

RUN_ID = re.compile(r"[0-9a-f]{32}")


class PredictError(Exception):
    """A model or an input that cannot be used, explained in one paragraph."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = Parser(
        prog="python -m sweep predict",
        description="Score images with a model a sweep logged; write one label per line.",
    )
    p.add_argument(
        "model", type=nonblank, help="models:/NAME@best, models:/NAME/VERSION, or a run id"
    )
    p.add_argument("--out", type=nonblank, required=True, help="the predictions file to write")
    p.add_argument(
        "--images", type=nonblank, help="an IDX images file (default: the 10,000 test images)"
    )
    p.add_argument(
        "--labels", type=nonblank, help="its IDX labels file, for the accuracy and the report"
    )
    p.add_argument("--data-dir", type=nonblank, help="folder with the Fashion-MNIST IDX files")
    p.add_argument(
        "--tracking-uri", type=nonblank, help=f"the store (default {DEFAULT_TRACKING_URI})"
    )
    p.add_argument("--batch-size", type=_positive, default=1000, help="images per forward pass")
    args = p.parse_args(argv)
    if args.labels and not args.images:
        p.error("--labels goes with --images (the test set's labels are known)")
    return args


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def model_uri(model: str, store: Any) -> str:
    """``models:/...`` as given; a run id: the model that run logged."""
    if model.startswith(("models:/", "runs:/")):
        return model
    if not RUN_ID.fullmatch(model):
        raise PredictError(
            f"MODEL {model!r} is neither models:/NAME@ALIAS, models:/NAME/VERSION nor a run id."
        )
    logged = store.logged_models(model)
    if not logged:
        raise PredictError(
            f"run {model} logged no model; the sweep logs one for its selected trial "
            "(models:/EXPERIMENT@best)."
        )
    return f"models:/{logged[-1]}"


def images_and_labels(args: argparse.Namespace) -> tuple[Any, Any]:
    """The images to score and their labels: files named by --images/--labels (anything
    wrong with them is bad input: :class:`PredictError`), else the test set (missing or
    broken files: :class:`sweep.train.DataError`, as for a sweep)."""
    from ..train import (
        HOW_TO_GET,
        TEST_IMAGES,
        TEST_LABELS,
        DataError,
        find_data_dir,
        load_arrays,
        read_idx,
    )

    if args.images:
        for flag, name in (("--images", args.images), ("--labels", args.labels)):
            try:
                found = not name or Path(name).is_file()
            except (OSError, ValueError):  # a name too long
                found = False
            if not found:
                raise PredictError(f"{flag} {name}: no such file ({flag} takes an IDX file).")
        try:
            flag = "--images"
            images = read_idx(Path(args.images), 2051)
            flag = "--labels"
            labels = read_idx(Path(args.labels), 2049, len(images)) if args.labels else None
        except DataError as exc:  # (how to get Fashion-MNIST is no help with this file)
            why = str(exc).replace(HOW_TO_GET, "").removeprefix("Fashion-MNIST: ").strip()
            what = "28x28 images" if flag == "--images" else "labels 0-9, one per image"
            raise PredictError(f"{flag}: {why} {flag} takes an IDX file of {what}.") from None
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
    from ..analysis import confusion, confusion_matrix_figure, summary_text

    figure = confusion_matrix_figure(confusion(labels, predicted), f"{out.name}: confusion matrix")
    figure.savefig(out.with_name(out.stem + "_confusion_matrix.png"), dpi=100)
    return summary_text(labels, predicted)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return reading(lambda: _predict(args))


def _predict(args: argparse.Namespace) -> int:
    out = Path(args.out)
    uri = file_and_store(args.out, args.tracking_uri, "predictions")
    if uri is None:
        return EXIT_BAD_INPUT
    from ..record import STORE_ERRORS
    from ..train import DataError

    try:
        source, model = load(args.model, uri)
        images, labels = images_and_labels(args)
    except (PredictError, DataError, *STORE_ERRORS, OSError) as exc:
        return _refused(exc, args.model, uri)
    try:
        predicted = predict(model, images, args.batch_size)
    except (RuntimeError, ValueError, TypeError) as exc:  # not a model of 28x28 images
        error(f"model {args.model} cannot score 28x28 images: {first_line(exc)}.")
        return EXIT_BAD_INPUT
    return _write(out, predicted, labels, source)


def load(model: str, uri: str) -> tuple[str, Any]:
    """The URI of the model ``model`` names in the store ``uri``, and the model, loaded
    from a copy (this command never writes to the store)."""
    from ..record import StoreReader

    store = StoreReader(uri)
    source = model_uri(model, store)
    return source, store.load_model(source)


def _refused(exc: Exception, model: str, uri: str) -> int:
    """Say why the model or the images cannot be had, in one line; the exit status."""
    from ..record import STORE_ERRORS, shown
    from ..train import DataError

    if isinstance(exc, PredictError):
        error(str(exc))
        return EXIT_BAD_INPUT
    if isinstance(exc, DataError):  # the test set's files: as for a sweep
        error(str(exc))
        return EXIT_FAILED
    if isinstance(exc, STORE_ERRORS):
        missing = (
            f"no model {model} in {shown(uri)} ({first_line(exc)}). Name models:/NAME@best, "
            "models:/NAME/VERSION or the id of a run that logged one."
        )
        return store_answered(uri, exc, missing)
    if isinstance(exc, OSError):  # the model's files in the artifact store
        error(
            f"the files of model {model} in {shown(uri)} cannot be read "
            f"({exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}). Its "
            "artifacts are missing or damaged: run the sweep again, or name another model."
        )
        return EXIT_FAILED
    return store_answered(uri, exc)  # (another error of the store's libraries)


def _write(out: Path, predicted: Any, labels: Any, source: str) -> int:
    """The predictions to ``out`` (and the accuracy, the report and the confusion matrix
    where the labels are known); the exit status."""
    from ..analysis import predictions_text

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(predictions_text(predicted))
        print(f"wrote {len(predicted)} predictions to {out} ({source})", file=sys.stderr)
        if labels is not None:
            print(report(labels, predicted, out))
    except OSError as exc:
        return write_failed(exc, out)
    return 0
