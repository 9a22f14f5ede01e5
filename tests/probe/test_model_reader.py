"""The one typed reader of stored results: ``TargetResult.from_dict`` and ``Verdict.parse``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.probe.findings import warnings
from bot.probe.model import (
    SCHEMA,
    Code,
    DaneResult,
    DaneStatus,
    Dnssec,
    Family,
    HostResult,
    Reason,
    TargetKind,
    TargetResult,
    Verdict,
)

STORED_V1 = Path(__file__).parent / "data" / "stored_result_v1.json"


def stored_v1() -> dict[str, Any]:
    data = json.loads(STORED_V1.read_text())
    assert isinstance(data, dict)
    return data


def test_a_result_stored_before_the_schema_key_loads_with_every_fact() -> None:
    # Given a result as the database holds it today (no "schema" key)
    data = stored_v1()
    assert "schema" not in data
    # When it is read back
    result = TargetResult.from_dict(data)
    # Then every fact is typed again
    assert result.kind is TargetKind.EMAIL
    assert result.verdict is Verdict.UNSUPPORTED
    first, unprobed, plain = result.hosts
    assert first.verdict is Verdict.RELAXED
    assert first.family is Family.IPV4
    assert first.reasons == (
        Reason(Code.INCOMPLETE_CHAIN, "the server does not send the intermediate certificate"),
    )
    assert first.certificate is not None
    assert first.certificate.sans == ("mx1.partner.example", "*.partner.example")
    assert first.certificate.not_after.isoformat() == "2025-04-01T00:00:00+00:00"
    assert first.attempts[0].phases_ms[1][1] == 40
    assert first.recipients[0].accepted is True
    assert unprobed.counted is False
    assert unprobed.family is Family.IPV6
    assert plain.starttls_offered is False
    assert result.extras.mta_sts_error is not None
    assert result.extras.mta_sts_error.code is Code.STS_POLICY_INVALID
    assert result.warnings == (
        Reason(Code.MX_IP_LITERAL, "the MX target 192.0.2.99 is an IP address and was ignored"),
    )


def test_what_is_read_back_writes_the_same_document_with_its_schema() -> None:
    data = stored_v1()
    again = TargetResult.from_dict(data).to_dict()
    assert again.pop("schema") == SCHEMA
    # what schema 2 added (DNSSEC, DANE, MTA-STS id): their defaults for a version 1 result
    assert again.pop("dnssec") is None
    assert again.pop("partner")["dane"] is False
    for host in again["hosts"]:
        assert (host.pop("dane"), host.pop("dnssec")) == (None, None)
    extras = again["extras"]
    assert (extras.pop("mta_sts_id"), extras.pop("mta_sts_max_age")) == (None, None)
    assert extras.pop("mta_sts_warnings") == []
    assert again == data


def test_dnssec_and_dane_are_read_back() -> None:
    data = stored_v1()
    data["dnssec"] = "secure"
    data["hosts"][0]["dnssec"] = "secure"
    data["hosts"][0]["dane"] = {
        "status": "dane-valid",
        "message": "DANE verified (3 1 1 matches)",
        "records": ["3 1 1 " + "ab" * 32],
        "matched": "3 1 1",
        "dnssec": "secure",
    }
    data["extras"]["mta_sts_id"] = "2024"
    result = TargetResult.from_dict(data)
    assert result.dnssec is Dnssec.SECURE
    host = result.hosts[0]
    assert host.dane == DaneResult(
        DaneStatus.VALID,
        "DANE verified (3 1 1 matches)",
        ("3 1 1 " + "ab" * 32,),
        "3 1 1",
        Dnssec.SECURE,
    )
    assert result.extras.mta_sts_id == "2024"
    assert TargetResult.from_dict(result.to_dict()) == result


def test_the_warnings_of_a_stored_result_are_the_findings_it_was_stored_with() -> None:
    data = stored_v1()
    result = TargetResult.from_dict(data)
    assert [w.to_dict() for w in warnings(result)] == data["warnings"]


def test_reasons_to_show_put_the_target_and_the_worst_host_first() -> None:
    result = TargetResult.from_dict(stored_v1())
    assert result.reasons_to_show() == (
        "mx2.partner.example: the server does not offer STARTTLS",
        "mx1.partner.example: this host has no IPv6 route",
        "mx1.partner.example: the server does not send the intermediate certificate",
    )
    dns = TargetResult(
        "gone.example",
        TargetKind.DOMAIN,
        "gone.example",
        Verdict.UNREACHABLE,
        reasons=(Reason(Code.DNS_NXDOMAIN, "gone.example does not exist"),),
    )
    assert dns.reasons_to_show() == ("gone.example does not exist",)


def test_a_code_this_version_does_not_know_keeps_its_sentence() -> None:
    data = stored_v1()
    data["hosts"][2]["reasons"] = [{"code": "from-the-future", "message": "something new"}]
    host = TargetResult.from_dict(data).hosts[2]
    assert host.reasons == (Reason(Code.PROBE_ERROR, "something new"),)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="empty"),
        pytest.param({"target": "a.example"}, id="no-verdict"),
        pytest.param({"target": "a.example", "verdict": "great"}, id="unknown-verdict"),
        pytest.param({"target": "a.example", "verdict": "strict", "schema": 99}, id="newer"),
    ],
)
def test_a_document_that_is_no_stored_result_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"schema|not a stored probe result"):
        TargetResult.from_dict(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("strict", Verdict.STRICT),
        ("relaxed", Verdict.RELAXED),
        ("unreachable", Verdict.UNREACHABLE),
        ("unsupported", Verdict.UNSUPPORTED),
        ("", None),
        (None, None),
        ("STRICT", None),
        (3, None),
    ],
)
def test_verdict_parse(value: object, expected: Verdict | None) -> None:
    assert Verdict.parse(value) is expected


def test_a_host_without_optional_facts_round_trips() -> None:
    result = TargetResult(
        "a.example",
        TargetKind.DOMAIN,
        "a.example",
        Verdict.STRICT,
        hosts=(HostResult("mx.a.example", "192.0.2.1", 25, Verdict.STRICT),),
    )
    assert TargetResult.from_dict(result.to_dict()) == result
