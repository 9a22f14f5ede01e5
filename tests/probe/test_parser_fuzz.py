"""No text from the network can raise out of the parsers: every failure is a reason.

Hypothesis feeds the MTA-STS TXT and policy parsers (and, in the DANE tests, the TLSA
parser) arbitrary text, and text built from the pieces valid input is made of, so that
the search reaches deep into each parser rather than failing on the first character.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.probe.dane import check, parse_tlsa
from bot.probe.dns import RecordsResult
from bot.probe.model import Code, DaneStatus, Dnssec, Reason
from bot.probe.sts_parse import StsPolicy, StsTxt, parse_policy, parse_sts_txt

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = st.sampled_from(
    [
        "v=STSv1",
        ";",
        "; ",
        "id=",
        "abc",
        "20240101",
        "=",
        " ",
        "\t",
        "ext",
        "more=a",
        "version",
        ":",
        "STSv1",
        "mode",
        "enforce",
        "testing",
        "none",
        "max_age",
        "86400",
        "mx",
        "*.",
        "mx1.example.com",
        "-",
        ".",
        "\n",
        "\r\n",
        "\r",
        "\u2028",
        "\u00b2",
        "\u0663",
        "\uff13",
        "\x00",
        "\u00e9",
        "_",
        "01234567890",
        "31557601",
    ]
)
NEAR_VALID = st.lists(PIECES, max_size=40).map("".join)
ANY_TEXT = st.text(max_size=400)


def _check_txt(found: StsTxt) -> None:
    assert isinstance(found, StsTxt)
    if found.error is not None:
        assert found.error.code is Code.STS_POLICY_INVALID
        assert found.id is None
    if found.id is not None:
        assert found.record is not None
    for warning in found.warnings:
        assert warning.code is Code.STS_POLICY_NONSTANDARD


def _check_policy(result: StsPolicy | Reason) -> None:
    if isinstance(result, Reason):
        assert result.code is Code.STS_POLICY_INVALID
        assert result.message
        return
    assert result.mode in ("enforce", "testing", "none")
    assert 0 <= result.max_age <= 31_557_600
    assert result.mode == "none" or result.mx
    for pattern in result.mx:
        assert pattern == pattern.lower()
        assert pattern.isascii()


@FUZZ
@given(st.lists(st.one_of(ANY_TEXT, NEAR_VALID), max_size=4))
def test_txt_parser_never_raises(records: list[str]) -> None:
    _check_txt(parse_sts_txt(records))


@FUZZ
@given(st.one_of(ANY_TEXT, NEAR_VALID))
def test_txt_parser_never_raises_on_one_sts_looking_record(text: str) -> None:
    _check_txt(parse_sts_txt(["v=STSv1;" + text]))


@FUZZ
@given(st.one_of(ANY_TEXT, NEAR_VALID))
def test_policy_parser_never_raises(text: str) -> None:
    _check_policy(parse_policy(text))


@FUZZ
@given(st.lists(st.one_of(ANY_TEXT, NEAR_VALID), max_size=8))
def test_policy_parser_never_raises_after_a_valid_head(lines: list[str]) -> None:
    text = "version: STSv1\nmode: enforce\nmax_age: 1\nmx: a.test\n" + "\n".join(lines)
    _check_policy(parse_policy(text))


TLSA_PIECES = st.sampled_from(
    ["3", "2", "1", "0", "255", "256", " ", "\t", "ab", "CD", "0f", "g", "\u0663", "-1", "\n"]
)


@FUZZ
@given(st.one_of(ANY_TEXT, st.lists(TLSA_PIECES, max_size=30).map("".join)))
def test_tlsa_parser_never_raises(text: str) -> None:
    parsed = parse_tlsa(text)
    if isinstance(parsed, str):
        assert parsed  # a reason, in words
        return
    assert 0 <= parsed.usage <= 255
    assert 0 <= parsed.selector <= 255
    assert 0 <= parsed.mtype <= 255
    assert isinstance(parsed.usable, bool)
    assert parsed.short.startswith(parsed.params)


@FUZZ
@given(st.lists(st.one_of(ANY_TEXT, st.lists(TLSA_PIECES, max_size=30).map("".join)), max_size=4))
def test_dane_check_never_raises_on_any_published_records(records: list[str]) -> None:
    # Given secure answers carrying whatever TLSA text, and a chain that is not DER
    found = RecordsResult("_25._tcp.mx.test", tuple(records), dnssec=Dnssec.SECURE)
    result = check(
        "mx.test",
        found,
        address_dnssec=Dnssec.SECURE,
        chain=(b"not a certificate", b"\x30\x03\x02\x01\x01"),
        starttls_offered=True,
        now=datetime(2030, 1, 1, tzinfo=UTC),
    )
    # Then there is a status, never an exception, and nothing matched garbage
    assert result.status is not DaneStatus.VALID
    assert result.message
