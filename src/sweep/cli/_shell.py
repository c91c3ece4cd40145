"""What every sub-command shares: its exit statuses, its one-line error message, the rule
that an empty value is refused (never read as the default), and the guard against
surroundings that went away (a deleted working folder, a standard output that cannot be
written). The lowest module of the command line: the others import from it.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_NO_ROOM = 3  # a write failed for want of room or permission (resumable once mended)
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C

MAX_MESSAGE = 1_000  # characters of one error paragraph (values in it are cut shorter)


def error(message: object) -> None:
    """One error paragraph on stderr: ``error: ...`` on one line, at most ``MAX_MESSAGE``
    characters whatever the values it quotes (a long one is cut in its middle, so that
    what to do, at its end, stays)."""
    text = re.sub(r"\s*[\r\n]+\s*", " ", str(message)).strip()
    if len(text) > MAX_MESSAGE:
        keep = MAX_MESSAGE - 5
        text = f"{text[: keep * 2 // 3]} ... {text[-(keep - keep * 2 // 3) :]}"
    print(f"error: {text}", file=sys.stderr)


def file_and_store(out: str, tracking_uri: str | None, what: str) -> str | None:
    """The checked URI of the store a command reads before it writes the file ``out``
    (``what`` goes into it), with ``out`` checked first: a place that cannot be that file,
    or the store's own database; None once the reason is printed (the command exits 2)."""
    from ..record import is_the_store, shown, unwritable

    why = unwritable(out, folder=False)  # before the store is read or anything written
    if why:
        error(f"cannot write --out {out}: {why}. Name a file the {what} may go to.")
        return None
    uri = read_store(tracking_uri)
    if uri is not None and is_the_store(out, uri):
        error(f"--out {out} is the store {shown(uri)} itself. Name another file.")
        return None
    return uri


def write_failed(exc: OSError, out: object) -> int:
    """Say why an output file could not be written (its place was checked before: this is
    a fault of the moment), in one line; the exit status (3 for want of room or
    permission, else 1)."""
    from ..faults import storage_problem

    problem = storage_problem(exc)
    if problem:
        error(f"{problem}. Make room (or allow the write), then run the command again.")
        return EXIT_NO_ROOM
    error(f"cannot write {exc.filename or out}: {exc.strerror or exc}.")
    return EXIT_FAILED


def reading(command: Callable[[], int]) -> int:
    """Run a command that only reads the store: Ctrl-C ends it with one line and status
    130 (nothing to resume, nothing changed)."""
    try:
        return command()
    except KeyboardInterrupt:
        error("interrupted (Ctrl-C); the store was not changed.")
        return EXIT_INTERRUPTED


class Parser(argparse.ArgumentParser):
    """argparse's parser whose refusal of a flag is one line like every other error (not
    its usage block): what is wrong, and where the flags are listed; status 2."""

    def error(self, message: str) -> NoReturn:
        error(f"{self.prog}: {message}. See {self.prog} --help for the flags.")
        sys.exit(EXIT_BAD_INPUT)


def read_store(tracking_uri: str | None) -> str | None:
    """The checked URI of the store a reading command names (:func:`sweep.record.existing`),
    the libraries' own chatter quieted for what follows; None once the reason it cannot be
    read is printed (the command exits 2)."""
    from ..console import quiet_libraries
    from ..record import StoreError, existing

    try:
        uri = existing(tracking_uri)
    except StoreError as exc:
        error(exc)
        return None
    quiet_libraries()
    return uri


def store_answered(uri: str | None, exc: Exception, missing: str | None = None) -> int:
    """Say in one line what a store answered with an error; the exit status. A store of an
    older MLflow is bad input (2), and so, where ``missing`` says what was asked for, an
    answer that it is not there (``missing`` is then the line); any other answer is a
    failure (1)."""
    from ..record import answered_with_error, not_found, older_mlflow

    older = older_mlflow(uri, exc) if uri else None
    if older is not None:
        error(str(older))
        return EXIT_BAD_INPUT
    if missing is not None and not_found(exc):
        error(missing)
        return EXIT_BAD_INPUT
    error(answered_with_error(uri, exc))
    return EXIT_FAILED


class OutputLost(BaseException):
    """Standard output can no longer be written (a full disk, a closed pipe, a closed
    descriptor): raised through the command like an interrupt, so that no ``except
    Exception`` hides it."""

    def __init__(self, cause: OSError | ValueError):
        super().__init__(getattr(cause, "strerror", None) or str(cause))
        self.errno = getattr(cause, "errno", None)


class _Guarded:
    """``sys.stdout`` whose write and flush raise :class:`OutputLost` instead of OSError
    (or ValueError: a closed file); ``None`` (started with ``>&-``) is a closed one."""

    def __init__(self, stream: Any):
        self._stream = stream

    def _lost(self) -> OutputLost:
        return OutputLost(OSError(errno.EBADF, "standard output is closed"))

    def write(self, text: str) -> int:
        if self._stream is None:
            raise self._lost()
        try:
            return self._stream.write(text)
        except (OSError, ValueError) as exc:
            raise OutputLost(exc) from None

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise OutputLost(exc) from None

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise self._lost()
        return getattr(self._stream, name)


def guarded(command: Callable[[], int]) -> int:
    """Run a sub-command in surroundings that may have gone: a working folder deleted
    under it, standard output that cannot be written (``>/dev/full``, ``| head -1``).
    Each ends the command with a non-zero status and at most one line, never a trace."""
    import os

    try:
        os.getcwd()
    except OSError:
        error(
            "the working folder no longer exists (it was deleted or moved away under this "
            "command). Change to an existing folder and run the command again."
        )
        return EXIT_BAD_INPUT
    stdout = sys.stdout
    sys.stdout = _Guarded(stdout)
    try:
        code = command()
        sys.stdout.flush()
        return code
    except OutputLost as exc:
        _silence(stdout)
        if exc.errno != errno.EPIPE:  # a closed pipe: its reader has what it wanted
            error(
                f"cannot write to standard output: {exc}. Send it to a file or a pipe that "
                "takes it."
            )
        return EXIT_FAILED
    finally:
        sys.stdout = stdout


def _silence(stream: Any) -> None:
    """Point a lost standard output at /dev/null, so that the interpreter's own flush at
    exit finds nothing to say."""
    import os

    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # (not a file: a test's buffer)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def nonblank(text: str) -> str:
    """A URI, path or name as typed, refused when empty or blank (an unset shell variable
    in a script), never read as "the default" (argparse type)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty (an unset shell variable?): give a value, or leave an optional flag out "
            "for its default"
        )
    if "\0" in text:
        raise argparse.ArgumentTypeError("holds a NUL character; no path or URI can")
    return text
