"""Output files (a saved plan, a drift report, imported desired-state files, the emulator's URL
file): the one writer of every file reconciler writes, whole or not at all, never over a file
the same run reads, and every failure an OutputError naming the file.

Each file is written to a temporary file beside it, flushed to disk, then renamed over the
target in one step, so a full disk, a quota, a crash or a reader at the wrong moment never meets
half a file where a good one was. The temporary name starts with a dot and ends in `.tmp`, so
the desired-state loader skips it even if it is left behind by a kill.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterable

from reconciler.errors import OutputError


def write_atomic(
    path: str | os.PathLike[str], text: str | Iterable[str], *, overwrite: bool = True
) -> None:
    """Replace (or, without `overwrite`, create) the file at `path` with `text` in one step.

    `text` may come in lines (each written with a newline after it), so that a large
    document is written as it is made rather than held whole.

    A symlink at `path` is followed, so the link stays and its target gets the new content. On
    any failure the temporary file is removed, the old file is untouched, and OutputError
    names `path`.
    """
    shown = os.fspath(path)
    target = os.path.realpath(shown)
    directory, name = os.path.split(target)
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    created = reserved = False
    try:
        mode = _mode(target) if overwrite else None
        if not overwrite:
            # claim the name first: a file appearing after the caller's check is never replaced
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            reserved = True
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        created = True
        with open(handle, "w", encoding="utf-8", newline="") as stream:
            if isinstance(text, str):
                stream.write(text)
            else:
                for line in text:
                    stream.write(line)
                    stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)  # a replaced file keeps its permissions
        os.replace(temporary, target)
    except BaseException as exc:
        if created:
            _remove(temporary)
        if reserved:
            _remove(target)
        if not isinstance(exc, OSError):
            raise
        if isinstance(exc, FileExistsError) and exc.filename == target:
            raise OutputError(f"cannot write {shown}: it already exists") from exc
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from exc


def write_lines(
    path: str | os.PathLike[str], lines: Iterable[str], *, overwrite: bool = True
) -> None:
    """Rendered lines as a file, each ended by a newline; as `write_atomic`."""
    write_atomic(path, "".join(line + "\n" for line in lines), overwrite=overwrite)


def make_dir(path: str | os.PathLike[str]) -> None:
    """Create an output directory (and its parents) if missing; OutputError names it if not."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {os.fspath(path)}: {exc.strerror or exc}") from exc


def refuse_inputs(path: str, inputs: Iterable[str], *, flag: str) -> None:
    """Refuse an output path that is a directory or one of the run's input files, before
    anything is fetched: the output would replace the very file it was made from."""
    if os.path.isdir(path):
        raise OutputError(f"{flag} {path} is a directory", hint=f"give {flag} a file name")
    for source in inputs:
        if _same_file(path, source):
            raise OutputError(
                f"{flag} {path} would overwrite {source}, an input of this run",
                hint=f"give {flag} a path this command does not read",
            )


def _same_file(a: str, b: str) -> bool:
    """The same file however it is spelt: another path, a symlink or a hard link."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # `a` does not exist yet (it is then no input), or vanished meanwhile
        return os.path.realpath(a) == os.path.realpath(b)


def _mode(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
