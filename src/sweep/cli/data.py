"""``python -m sweep data [--download]``: say where the verified Fashion-MNIST files are,
or fetch them through torchvision where the network is."""

from __future__ import annotations

import sys

from ._shell import EXIT_FAILED, Parser


def main(argv: list[str] | None = None) -> int:
    """Say where the verified data is, or fetch it (``--download``)."""
    parser = Parser(prog="python -m sweep data", description=__doc__)
    parser.add_argument("--data-dir", help="an explicit folder to check")
    parser.add_argument(
        "--download", action="store_true", help="if not found, download through torchvision"
    )
    args = parser.parse_args(argv)
    from ..train import DataError, download, find_data_dir, load_arrays

    try:
        try:
            folder = find_data_dir(args.data_dir)
        except DataError:
            if not args.download:
                raise
            folder = download()
        load_arrays(folder)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Fashion-MNIST: verified 60,000 + 10,000 images in {folder}")
    return 0
