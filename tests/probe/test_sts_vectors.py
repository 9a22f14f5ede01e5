"""The MTA-STS parsers against other implementations' vectors and RFC 8461's grammar.

The vectors are data (``tests/probe/data/mta_sts_vectors.py``, sources and licences named
there); each says what RFC 8461 requires, and where the source's own implementation
decided otherwise.
"""

from __future__ import annotations

import pytest

from bot.probe.model import Code
from bot.probe.mta_sts import is_text_plain
from bot.probe.sts_parse import StsPolicy, parse_policy, parse_sts_txt
from tests.probe.data.mta_sts_vectors import (
    CONTENT_TYPES,
    MATCHES,
    POLICIES,
    SOURCES,
    TXT,
    ContentType,
    Match,
    Policy,
    Txt,
)


def _id(prefix: str, index: int, source: str, text: object) -> str:
    shown = repr(text)[:40]
    return f"{prefix}{index}-{source}-{shown}"


@pytest.mark.parametrize(
    "vector", [pytest.param(v, id=_id("txt", i, v.source, v.records)) for i, v in enumerate(TXT)]
)
def test_txt_record(vector: Txt) -> None:
    found = parse_sts_txt(vector.records)
    if vector.expect == "none":
        assert (found.record, found.error, found.id) == (None, None, None)
        return
    assert found.record is not None
    if vector.expect == "invalid":
        assert found.error is not None
        assert found.error.code is Code.STS_POLICY_INVALID
        assert found.id is None
        return
    assert found.error is None, found.error
    assert found.id == vector.id
    codes = [w.code for w in found.warnings]
    assert codes == ([Code.STS_POLICY_NONSTANDARD] if vector.expect == "lenient" else [])


@pytest.mark.parametrize(
    "vector", [pytest.param(v, id=_id("pol", i, v.source, v.text)) for i, v in enumerate(POLICIES)]
)
def test_policy(vector: Policy) -> None:
    result = parse_policy(vector.text)
    if vector.expect == "invalid":
        assert not isinstance(result, StsPolicy), result
        assert result.code is Code.STS_POLICY_INVALID
        return
    assert isinstance(result, StsPolicy), result
    if vector.mode is not None:
        assert result.mode == vector.mode
    if vector.mx is not None:
        assert result.mx == vector.mx
    if vector.max_age is not None:
        assert result.max_age == vector.max_age
    codes = {w.code for w in result.warnings}
    assert codes == ({Code.STS_POLICY_NONSTANDARD} if vector.expect == "lenient" else set())


def _a_label(host: str) -> str:
    """As the prober sees MX names: A-labels (the DNS gives them so)."""
    return host if host.isascii() else host.encode("idna").decode("ascii")


@pytest.mark.parametrize(
    "vector",
    [
        pytest.param(v, id=_id("mx", i, v.source, (v.host, v.patterns)))
        for i, v in enumerate(MATCHES)
    ],
)
def test_mx_match(vector: Match) -> None:
    text = "version: STSv1\nmode: enforce\nmax_age: 1\n" + "".join(
        f"mx: {p}\n" for p in vector.patterns
    )
    policy = parse_policy(text)
    if vector.expect == "invalid":
        assert not isinstance(policy, StsPolicy)
        return
    assert isinstance(policy, StsPolicy), policy
    assert policy.matches(_a_label(vector.host)) is vector.expect


@pytest.mark.parametrize(
    "vector",
    [pytest.param(v, id=_id("ct", i, v.source, v.value)) for i, v in enumerate(CONTENT_TYPES)],
)
def test_content_type(vector: ContentType) -> None:
    assert is_text_plain(vector.value) is vector.expect


def test_every_source_is_represented() -> None:
    used = {v.source for v in [*TXT, *POLICIES, *MATCHES, *CONTENT_TYPES]}
    assert used == set(SOURCES)


def test_lenient_warnings_name_who_ignores_the_policy() -> None:
    # Given a policy with an indented line, which strict senders refuse
    result = parse_policy("version: STSv1\n  mode: none\nmax_age: 1\n")
    assert isinstance(result, StsPolicy)
    (warning,) = result.warnings
    # Then the warning says which senders ignore it and which apply it
    assert "mox, go-mtasts (maddy) and postfix-mta-sts-resolver" in warning.message
    assert "chasquid, Stalwart and Mimecast's library" in warning.message
