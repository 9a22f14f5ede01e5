"""TLS-RPT parsing: real senders' formats accepted, every bad input refused naming what is wrong."""

from __future__ import annotations

import copy
import gzip
import json
import tracemalloc
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.policy.evidence.tlsrpt import (
    GZIP_TYPE,
    JSON_TYPE,
    MAX_REPORT_BYTES,
    ReportRefused,
    from_file,
    from_http,
    from_message,
    gunzip,
)
from tests.evidence import tlsrpt_samples as samples

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def encoded(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_the_rfc_8460_example_report() -> None:
    report = from_http(encoded(samples.RFC_EXAMPLE), JSON_TYPE, now=NOW)
    assert report.report_id == "5065427c-23d3-47ca-b6e0-946ea0e8c4be"
    assert report.organization == "Company-X"
    assert report.start == datetime(2016, 4, 1, tzinfo=UTC)
    assert (report.successful, report.failed) == (5326, 303)
    (policy,) = report.policies
    assert (policy.policy_type, policy.policy_domain) == ("sts", "company-y.example")
    assert policy.mx_hosts == ("*.mail.company-y.example",)
    assert [(f.mx_host, f.result_type, f.sessions) for f in policy.failures] == [
        ("mx1.mail.company-y.example", "certificate-expired", 100),
        ("mx2.mail.company-y.example", "starttls-not-supported", 200),
        ("mx-backup.mail.company-y.example", "validation-failure", 3),
    ]
    assert policy.failures[0].sending_ip == "2001:db8:abcd:12::1"


def test_the_rfc_example_as_a_mail_message() -> None:
    report = from_file(samples.rfc_message(), now=NOW)
    assert report.report_id == "5065427c-23d3-47ca-b6e0-946ea0e8c4be"


def test_a_report_in_googles_format_from_its_mail() -> None:
    report = from_message(samples.google_message(), now=NOW)
    assert report.organization == "Google Inc."
    assert report.report_id == "2026-12-04T00:00:00Z_company.test"
    assert report.policies[0].failures[0].mx_host == "mx2.company.test"


def test_a_report_in_microsofts_format_with_zoneless_times_is_taken_as_utc() -> None:
    report = from_file(samples.microsoft_message(), now=NOW)
    assert report.organization == "Microsoft Corporation"
    assert report.start == datetime(2026, 12, 4, tzinfo=UTC)
    assert report.end == datetime(2026, 12, 4, 23, 59, 59, tzinfo=UTC)
    assert report.policies[0].mx_hosts == ()


def test_bare_json_and_gzip_files() -> None:
    doc = encoded(samples.report())
    assert from_file(doc, now=NOW).report_id == "built-1"
    assert from_file(gzip.compress(doc), now=NOW).report_id == "built-1"
    assert from_http(gzip.compress(doc), f"{GZIP_TYPE}; charset=binary", now=NOW).failed == 0


def _without(path: str) -> dict[str, Any]:
    doc = samples.rfc_example()
    *parents, last = path.split("/")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    return doc


def _set(path: str, value: Any) -> dict[str, Any]:
    doc = samples.rfc_example()
    *parents, last = path.split("/")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    "field",
    [
        "organization-name",
        "date-range",
        "date-range/start-datetime",
        "date-range/end-datetime",
        "report-id",
        "policies",
        "policies/0/policy",
        "policies/0/policy/policy-type",
        "policies/0/policy/policy-domain",
        "policies/0/summary",
        "policies/0/failure-details/0/result-type",
        "policies/0/failure-details/1/failed-session-count",
    ],
)
def test_a_missing_required_field_is_named(field: str) -> None:
    with pytest.raises(ReportRefused) as refused:
        from_http(encoded(_without(field)), JSON_TYPE, now=NOW)
    assert field.split("/")[-1] in str(refused.value)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("policies/0/summary/total-failure-session-count", -1, "whole number"),
        ("policies/0/summary/total-failure-session-count", True, "whole number"),
        ("policies/0/summary/total-failure-session-count", "303", "whole number"),
        ("policies/0/summary", {}, "neither session count"),
        ("policies/0/policy/policy-type", "dmarc", "tlsa, sts or no-policy-found"),
        ("policies/0/policy/mx-host", [1], "list of strings"),
        ("policies/0/failure-details/0/receiving-ip", "not-an-ip", "not an IP address"),
        ("policies/0/failure-details", {}, "not a list"),
        ("policies", [], "non-empty list"),
        ("date-range/start-datetime", "yesterday", "RFC 3339"),
        ("date-range/start-datetime", "2016-04-02T00:00:00Z", "start-datetime is after"),
        ("report-id", "x" * 501, "longer than 500"),
        ("organization-name", "  ", "organization-name"),
    ],
)
def test_a_mistyped_field_is_named(path: str, value: Any, message: str) -> None:
    with pytest.raises(ReportRefused, match=message):
        from_http(encoded(_set(path, value)), JSON_TYPE, now=NOW)


def test_a_date_range_in_the_future_is_refused_at_the_injected_clock() -> None:
    doc = samples.report(start="2026-12-05T00:00:00Z", end="2026-12-05T23:59:59Z")
    with pytest.raises(ReportRefused, match="in the future"):
        from_http(encoded(doc), JSON_TYPE, now=NOW)
    later = datetime(2026, 12, 6, 0, 5, tzinfo=UTC)
    assert from_http(encoded(doc), JSON_TYPE, now=later).report_id == "built-1"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json at all", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"organization-name": "x"', "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
    ],
)
def test_what_is_not_a_json_report_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(ReportRefused, match=message):
        from_http(body, JSON_TYPE, now=NOW)


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "text/plain", "application/gzip"]
)
def test_the_wrong_media_type_is_415(content_type: str | None) -> None:
    with pytest.raises(ReportRefused, match="media type") as refused:
        from_http(encoded(samples.report()), content_type, now=NOW)
    assert refused.value.status == 415


def test_gzip_that_is_not_gzip_or_is_cut_short() -> None:
    with pytest.raises(ReportRefused, match="not gzip"):
        from_http(b"plain bytes", GZIP_TYPE, now=NOW)
    whole = gzip.compress(encoded(samples.report()))
    with pytest.raises(ReportRefused, match="truncated"):
        from_http(whole[: len(whole) // 2], GZIP_TYPE, now=NOW)


def _bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    out = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join(out) + packer.flush()


def test_a_gzip_bomb_is_refused_while_inflating_in_bounded_memory() -> None:
    bomb = _bomb(200 * 2**20)  # 200 MiB of zeros in ~200 KB
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ReportRefused, match="more than 10 MiB") as refused:
            from_http(bomb, GZIP_TYPE, now=NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.status == 413
    assert peak < 3 * MAX_REPORT_BYTES  # never the 200 MiB


def test_exactly_the_limit_inflates() -> None:
    data = b" " * (MAX_REPORT_BYTES - 2) + b"{}"
    assert len(gunzip(gzip.compress(data))) == MAX_REPORT_BYTES


def test_an_uncompressed_body_over_the_limit_is_413() -> None:
    with pytest.raises(ReportRefused) as refused:
        from_http(b" " * (MAX_REPORT_BYTES + 1), JSON_TYPE, now=NOW)
    assert refused.value.status == 413


def test_a_message_without_a_report_part_is_refused() -> None:
    message = samples.google_message().replace(b"tlsrpt+gzip", b"pdf")
    with pytest.raises(ReportRefused, match="has no application/tlsrpt"):
        from_message(message, now=NOW)


def test_a_dmarc_report_message_is_not_a_tls_report() -> None:
    message = samples.google_message().replace(b'report-type="tlsrpt"', b'report-type="dmarc"')
    with pytest.raises(ReportRefused, match="not tlsrpt"):
        from_message(message, now=NOW)


def test_a_message_whose_report_is_bad_names_the_field() -> None:
    doc = copy.deepcopy(samples.google_report())
    del doc["report-id"]
    with pytest.raises(ReportRefused, match="report-id is missing"):
        from_file(samples.google_message(body=doc), now=NOW)


def test_garbage_is_not_a_message() -> None:
    with pytest.raises(ReportRefused):
        from_file(b"\x00\x01\x02 garbage", now=NOW)
