"""Netstrings (``<length>:<bytes>,``), the framing of Postfix's socketmap protocol.

Sans-IO: :class:`Decoder` is fed whatever bytes arrived and returns the
netstrings completed so far; it never touches a socket. Errors (all
:class:`NetstringError`, a ``ValueError``):

* :class:`TooLong` — the announced length is over the decoder's limit (detected
  from the length digits alone, before the payload is buffered);
* :class:`BadLength` — no digits, or a non-digit, before the ``:``;
* :class:`BadTerminator` — the payload is not followed by ``,``.

After an error the stream cannot be resynchronised; the caller drops the
connection.
"""

from __future__ import annotations


class NetstringError(ValueError):
    """The byte stream is not a well-formed sequence of netstrings."""


class TooLong(NetstringError):
    """A netstring is longer than the limit."""


class BadLength(NetstringError):
    """The length prefix is empty or not decimal digits."""


class BadTerminator(NetstringError):
    """The payload is not followed by a comma."""


def encode(data: bytes) -> bytes:
    """One netstring holding ``data``."""
    return b"%d:%s," % (len(data), data)


class Decoder:
    """Incremental netstring decoder with a maximum payload length."""

    def __init__(self, max_length: int) -> None:
        if max_length < 0:
            raise ValueError("max_length must be >= 0")
        self._max = max_length
        self._max_digits = len(str(max_length))
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete netstring."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every netstring it completes, in order."""
        buf = self._buffer
        buf += data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while pos < end:
            colon = buf.find(b":", pos, pos + self._max_digits + 1)
            if colon < 0:
                digits = bytes(buf[pos : pos + self._max_digits + 1])
                self._check_digits(digits, complete=False)
                if end - pos > self._max_digits:
                    raise TooLong(f"netstring length has more than {self._max_digits} digits")
                break
            digits = bytes(buf[pos:colon])
            self._check_digits(digits, complete=True)
            length = int(digits)
            if length > self._max:
                raise TooLong(f"netstring of {length} bytes is over the limit of {self._max}")
            stop = colon + 1 + length
            if stop >= end:
                break
            if buf[stop] != 0x2C:  # ","
                raise BadTerminator("netstring is not terminated by ','")
            out.append(bytes(buf[colon + 1 : stop]))
            pos = stop + 1
        if pos:
            del buf[:pos]
        return out

    def _check_digits(self, digits: bytes, *, complete: bool) -> None:
        if digits and not digits.isdigit():
            raise BadLength(f"netstring length {digits[:12]!r} is not a decimal number")
        if complete and not digits:
            raise BadLength("netstring has no length digits")
        if digits and int(digits) > self._max:
            raise TooLong(f"netstring of {int(digits)} bytes is over the limit of {self._max}")
