"""The netstring codec, as byte tables."""

from __future__ import annotations

import pytest

from bot.export import netstring
from bot.export.netstring import BadLength, BadTerminator, Decoder, TooLong


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", b"0:,", id="empty"),
        pytest.param(b"X", b"1:X,", id="single-byte"),
        pytest.param(b"OK secure", b"9:OK secure,", id="reply"),
        pytest.param(b"a,b:c", b"5:a,b:c,", id="separators-inside"),
    ],
)
def test_encode(data: bytes, expected: bytes) -> None:
    assert netstring.encode(data) == expected


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        pytest.param(b"0:,", [b""], id="empty"),
        pytest.param(b"1:X,", [b"X"], id="single-byte"),
        pytest.param(b"01:X,", [b"X"], id="leading-zero"),
        pytest.param(b"1:X,3:abc,", [b"X", b"abc"], id="two"),
        pytest.param(b"17:5:Hello,6:World!,,", [b"5:Hello,6:World!,"], id="nested"),
        pytest.param(b"3:a\x00b,", [b"a\x00b"], id="nul-inside"),
        pytest.param(b"1:X,3:ab", [b"X"], id="second-incomplete"),
        pytest.param(b"1", [], id="length-only"),
        pytest.param(b"1:", [], id="colon-only"),
        pytest.param(b"1:X", [], id="no-terminator-yet"),
    ],
)
def test_decode_whole(stream: bytes, expected: list[bytes]) -> None:
    assert Decoder(100).feed(stream) == expected


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param([b"0", b":", b","], [[], [], [b""]], id="empty-bytewise"),
        pytest.param([b"1:", b"X,3:abc,2:", b"ok,"], [[], [b"X", b"abc"], [b"ok"]], id="split"),
        pytest.param(
            [b"1:", b"X,9:123", b"456", b"789", b",2:", b"ok,"],
            [[], [b"X"], [], [], [b"123456789"], [b"ok"]],
            id="payload-across-reads",
        ),
        pytest.param([b"1", b"2:hello world!", b","], [[], [], [b"hello world!"]], id="digits"),
    ],
)
def test_decode_in_pieces(chunks: list[bytes], expected: list[list[bytes]]) -> None:
    decoder = Decoder(100)
    assert [decoder.feed(chunk) for chunk in chunks] == expected
    assert decoder.buffered == 0


@pytest.mark.parametrize(
    ("stream", "error"),
    [
        pytest.param(b":,", BadLength, id="no-digits"),
        pytest.param(b"aaa:aaa", BadLength, id="letters"),
        pytest.param(b"-1:a,", BadLength, id="negative"),
        pytest.param(b" 1:a,", BadLength, id="space-before"),
        pytest.param(b"0:_", BadTerminator, id="bad-terminator-empty"),
        pytest.param(b"3:aaa_", BadTerminator, id="bad-terminator"),
        pytest.param(b"1:X,3:aaa;", BadTerminator, id="second-bad-terminator"),
        pytest.param(b"101:", TooLong, id="over-limit"),
        pytest.param(b"101", TooLong, id="over-limit-before-colon"),
        pytest.param(b"9999", TooLong, id="too-many-digits"),
        pytest.param(b"0000", TooLong, id="too-many-zeroes"),
    ],
)
def test_decode_errors(stream: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Decoder(100).feed(stream)


def test_oversized_payload_is_refused_before_it_is_buffered() -> None:
    decoder = Decoder(10_000)
    with pytest.raises(TooLong):
        decoder.feed(b"99999999:")
    assert decoder.buffered < 20


def test_round_trip() -> None:
    payloads = [b"tls_policy example.com", b"", b"x" * 1000]
    stream = b"".join(netstring.encode(p) for p in payloads)
    assert Decoder(1000).feed(stream) == payloads
