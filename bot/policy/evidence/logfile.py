"""Reading a log in chunks of complete lines, from a saved position, across rotation.

:class:`LogFile` reads one path. It remembers the inode and byte position after
the last complete line it returned; a line still being written (no newline yet)
waits for the next read. At the end of the file it looks at the path again:

- another inode there — the log was rotated (``postfix logrotate``, logrotate's
  ``create``): what is left of the old file has been read; continue with the new
  one from its start;
- the same inode, smaller than our position — it was truncated (``copytruncate``):
  start again from 0.

Resuming from a saved (inode, position): if the path still has that inode we seek
there; if it was rotated meanwhile, the old file is looked for next to it (a file
whose name starts with the log's name and has that inode, e.g. ``maillog.1`` or
``maillog.20261204-101500``), read from the saved position to its end, and then
the new file from its start.

:class:`Stream` reads standard input (``journalctl -f`` piped in): no position.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1 << 20
MAX_LINE = 64 * 1024  # a "line" longer than this without a newline is cut there


class LogUnavailable(OSError):
    """The log cannot be opened or read; ``str()`` says why in one line."""


@dataclass(frozen=True, slots=True)
class Chunk:
    lines: list[str]
    inode: int
    position: int  # byte offset after these lines in the file with ``inode``


class Reader(Protocol):
    def read(self) -> Chunk | None:
        """The next complete lines, or ``None`` when nothing more is there now."""

    def close(self) -> None: ...


def split_complete(buffer: bytes) -> tuple[bytes, bytes]:
    """(complete lines, the rest): a "line" longer than MAX_LINE without a newline is cut."""
    cut = buffer.rfind(b"\n")
    if cut >= 0:
        return buffer[: cut + 1], buffer[cut + 1 :]
    if len(buffer) > MAX_LINE:
        return buffer, b""
    return b"", buffer


def _lines(complete: bytes) -> list[str]:
    """Decoded lines; a last line without its newline (cut, or end of input) is kept."""
    text = complete.decode("utf-8", "replace")
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") else lines


class LogFile:
    def __init__(self, path: Path, *, inode: int | None = None, position: int = 0) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._inode = 0
        self._position = 0
        self._buffer = b""
        self._start(inode, position)

    @property
    def inode(self) -> int:
        return self._inode

    @property
    def position(self) -> int:
        return self._position

    def _open(self, path: Path) -> None:
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise LogUnavailable(f"cannot read {path}: {exc.strerror or exc}") from None
        if self._file is not None:
            self._file.close()
        self._file = handle
        self._inode = os.fstat(handle.fileno()).st_ino
        self._position = 0
        self._buffer = b""

    def _start(self, inode: int | None, position: int) -> None:
        if inode is not None:
            rotated = self._find_inode(inode)
            if rotated is not None and rotated.stat().st_size >= position:
                self._open(rotated)
                self._seek(position)
                return
        self._open(self.path)

    def _find_inode(self, inode: int) -> Path | None:
        try:
            if self.path.stat().st_ino == inode:
                return self.path
            siblings = sorted(self.path.parent.glob(f"{self.path.name}*"))
        except OSError:
            return None
        for candidate in siblings:
            try:
                if candidate.is_file() and candidate.stat().st_ino == inode:
                    return candidate
            except OSError:
                continue
        return None

    def _seek(self, position: int) -> None:
        assert self._file is not None
        self._file.seek(position)
        self._position = position

    def read(self) -> Chunk | None:
        assert self._file is not None
        while True:
            data = self._file.read(CHUNK)
            if data:
                chunk = self._take(data)
                if chunk is not None:
                    return chunk
                continue
            if not self._moved_on():
                return None

    def _take(self, data: bytes) -> Chunk | None:
        complete, self._buffer = split_complete(self._buffer + data)
        if not complete:
            return None
        self._position += len(complete)
        return Chunk(_lines(complete), self._inode, self._position)

    def _moved_on(self) -> bool:
        """At the end: switch to the rotated-in file, or rewind a truncated one."""
        try:
            now = self.path.stat()
        except OSError:
            return False  # between rename and create: look again next time
        if now.st_ino != self._inode:
            self._open(self.path)
            return True
        if now.st_size < self._position:
            self._seek(0)
            self._buffer = b""
            return True
        return False

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Stream:
    """Lines from a pipe (standard input); the last line is taken at end of input."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""
        self._position = 0
        self.ended = False

    def read(self) -> Chunk | None:
        while not self.ended:
            data = os.read(self._fd, CHUNK)
            if not data:
                self.ended = True
                if self._buffer:
                    rest, self._buffer = self._buffer, b""
                    self._position += len(rest)
                    return Chunk(_lines(rest), 0, self._position)
                return None
            complete, self._buffer = split_complete(self._buffer + data)
            if not complete:
                continue
            self._position += len(complete)
            return Chunk(_lines(complete), 0, self._position)
        return None

    def close(self) -> None:
        return None
