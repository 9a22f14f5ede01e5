"""Writing table files so that a reader only ever sees an old file or a new one.

Each file is written to a temporary file in the same directory, flushed and
``fsync``-ed, then moved over the old one with ``os.replace`` (atomic on POSIX),
and the directory is ``fsync``-ed so the rename itself survives a crash. All
temporary files are written before the first rename, so a failure while
writing leaves every old file whole and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_files(directory: Path, contents: Mapping[str, str], *, mode: int = 0o644) -> None:
    """Replace ``directory/<name>`` with each text, atomically per file."""
    temps: list[tuple[str, Path]] = []
    try:
        for name, text in contents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            temps.append((tmp, directory / name))
            with os.fdopen(fd, "w", encoding="ascii", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
        for tmp, final in temps:
            os.replace(tmp, final)
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
