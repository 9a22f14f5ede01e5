"""The Postfix log parser: joins by process and queue ID, counts, days, unknown lines, bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.policy.evidence import postfix_log
from bot.policy.evidence.postfix_log import Kind, PostfixLogParser, syslog_day, tls_reason, to_json
from tests.evidence.postfix_lines import relay, removed, status, tls

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DAY = date(2026, 12, 4)
MX = relay("mx.p.example")


def parse(*lines: str, now: datetime = NOW) -> PostfixLogParser:
    parser = PostfixLogParser(now=now)
    parser.feed_all(lines)
    return parser


def delivered(parser: PostfixLogParser, domain: str = "p.example") -> dict[str, int]:
    return {
        name: n
        for (d, _, kind, name), n in parser.counts.items()
        if d == domain and kind is Kind.DELIVERED
    }


def deferred(parser: PostfixLogParser, domain: str = "p.example") -> dict[str, int]:
    return {
        name: n
        for (d, _, kind, name), n in parser.counts.items()
        if d == domain and kind is Kind.DEFERRED
    }


@pytest.mark.parametrize("level", ["Verified", "Trusted", "Untrusted", "Anonymous"])
def test_a_tls_line_gives_the_next_delivery_of_that_process_its_level(level: str) -> None:
    parser = parse(tls(11, MX, level), status(11, "A1", "a@p.example", MX))
    assert delivered(parser) == {level.lower(): 1}
    assert parser.counts[("p.example", DAY, Kind.VERSION, "TLSv1.3")] == 1


def test_a_delivery_without_a_tls_line_is_plaintext() -> None:
    parser = parse(status(11, "A1", "a@p.example", MX))
    assert delivered(parser) == {"plaintext": 1}
    assert parser.counts[("p.example", DAY, Kind.VERSION, "none")] == 1


def test_the_tls_line_of_another_process_does_not_count() -> None:
    parser = parse(tls(12, MX), status(11, "A1", "a@p.example", MX))
    assert delivered(parser) == {"plaintext": 1}


def test_the_tls_line_to_another_relay_does_not_count() -> None:
    parser = parse(tls(11, relay("mx.q.example")), status(11, "A1", "a@p.example", MX))
    assert delivered(parser) == {"plaintext": 1}


def test_recipients_of_one_message_share_its_connection() -> None:
    parser = parse(
        tls(11, MX, "Trusted"),
        status(11, "A1", "a@p.example", MX),
        status(11, "A1", "b@p.example", MX),
    )
    assert delivered(parser) == {"trusted": 2}


def test_the_next_message_over_a_new_plaintext_connection_is_not_given_the_old_tls() -> None:
    """The TLS line is bound to the first queue ID that uses it."""
    parser = parse(
        tls(11, MX),
        status(11, "A1", "a@p.example", MX),
        status(11, "B2", "c@p.example", MX),
    )
    assert delivered(parser) == {"verified": 1, "plaintext": 1}


def test_interleaved_processes_each_keep_their_own_connection() -> None:
    q = relay("mx.q.example", "192.0.2.20")
    parser = parse(
        tls(11, MX, "Verified"),
        tls(12, q, "Untrusted", version="TLSv1.2"),
        status(12, "B2", "b@q.example", q),
        status(11, "A1", "a@p.example", MX),
    )
    assert delivered(parser) == {"verified": 1}
    assert delivered(parser, "q.example") == {"untrusted": 1}
    assert parser.counts[("q.example", DAY, Kind.VERSION, "TLSv1.2")] == 1


def test_a_reused_tls_connection_counts_like_a_new_one() -> None:
    parser = parse(tls(11, MX, verb="reused"), status(11, "A1", "a@p.example", MX))
    assert delivered(parser) == {"verified": 1}


def test_orig_to_and_tls_fields_of_newer_postfix_are_tolerated() -> None:
    line = status(11, "A1", "a@p.example", MX, extra=" orig_to=<alias@corp.example>,")
    newer = status(11, "A2", "b@p.example", MX).replace(", dsn=", ", tls=may/dane:undecided, dsn=")
    parser = parse(tls(11, MX), line, newer)
    assert sum(delivered(parser).values()) == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "TLS is required, but was not offered by host mx.p.example[192.0.2.10]",
            "tls-not-offered",
        ),
        (
            "TLS is required, but host mx.p.example[192.0.2.10] refused to start TLS: 454 4.7.0",
            "tls-not-offered",
        ),
        ("Server certificate not verified", "certificate-not-verified"),
        ("Server certificate not trusted", "certificate-not-verified"),
        ("Cannot start TLS: handshake failure", "tls-handshake-failed"),
        ("TLS is required, but our TLS engine is unavailable", "other-tls"),
        (
            "delivery temporarily suspended: Server certificate not verified",
            "certificate-not-verified",
        ),
        ("connect to mx.p.example[192.0.2.10]:25: Connection refused", None),
        ("host mx.p.example[192.0.2.10] said: 452 4.2.2 Mailbox full", None),
    ],
)
def test_deferral_reasons(text: str, reason: str | None) -> None:
    assert tls_reason(text) == reason
    parser = parse(status(11, "A1", "a@p.example", MX, state="deferred", text=text))
    assert deferred(parser) == ({reason: 1} if reason else {})


def test_a_message_retried_all_day_counts_once_until_removed() -> None:
    why = "Server certificate not verified"
    retry = status(11, "A1", "a@p.example", MX, state="deferred", text=why)
    parser = parse(retry, retry, retry)
    assert deferred(parser) == {"certificate-not-verified": 1}
    parser.feed(removed("A1"))
    parser.feed(retry)  # a queue ID can come back (it is reused after removal)
    assert deferred(parser) == {"certificate-not-verified": 2}


def test_local_deliveries_are_not_network_deliveries() -> None:
    parser = parse(status(11, "A1", "a@p.example", "local", program="local"))
    assert delivered(parser) == {}
    assert parser.stats.matched == 1


def test_recipient_domains_are_normalised() -> None:
    parser = parse(
        status(11, "A1", "A@P.Example.", MX),
        status(11, "A2", "b@bücher.example", MX),
        status(11, "A3", '"odd@local"@p.example', MX),
    )
    assert delivered(parser) == {"plaintext": 2}
    assert delivered(parser, "xn--bcher-kva.example") == {"plaintext": 1}


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        "Dec  4 10:00:00 gateway postfix/smtp[11]: Verified TLS connection established",
        "Dec  4 10:00:00 gateway postfix/smtp[11]: A1: to=<a@p.example>, relay=",
        "Xyz  4 10:00:00 gw postfix/smtp[11]: A1: to=<a@p.example>, relay=mx[1]:25, status=sent",
        "Dec 99 10:00:00 gw postfix/smtp[11]: A1: to=<a@p.example>, relay=m[1]:25, status=sent",
        "\x00\xff binary",
    ],
)
def test_a_line_it_does_not_understand_is_counted_never_fatal(line: str) -> None:
    parser = parse(line)
    assert parser.stats.unknown == 1
    assert not parser.counts


def test_other_log_lines_are_ignored_not_unknown() -> None:
    parser = parse(
        "Dec  4 10:00:00 gateway postfix/qmgr[900]: A1: from=<>, size=286, nrcpt=1 (queue active)",
        "Dec  4 10:00:00 gateway postfix/smtp[11]: certificate verification failed for mx[1]:25",
    )
    assert (parser.stats.ignored, parser.stats.unknown) == (2, 0)


@pytest.mark.parametrize(
    ("stamp", "now", "day"),
    [
        pytest.param("Dec  4", NOW, date(2026, 12, 4), id="same-year"),
        pytest.param(
            "Dec 31", datetime(2027, 1, 1, 0, 5, tzinfo=UTC), date(2026, 12, 31), id="new-year"
        ),
        pytest.param(
            "Jan  1", datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2027, 1, 1), id="ahead-a-day"
        ),
        pytest.param("Feb 29", datetime(2027, 3, 1, tzinfo=UTC), date(2024, 2, 29), id="leap-day"),
    ],
)
def test_syslog_days_take_the_year_from_the_clock(stamp: str, now: datetime, day: date) -> None:
    assert syslog_day(stamp, now) == day


def test_rfc3339_stamps_are_counted_on_their_utc_day() -> None:
    line = status(11, "A1", "a@p.example", MX, stamp="2026-12-05T00:30:00.123456+01:00")
    parser = parse(line)
    assert ("p.example", date(2026, 12, 4), Kind.DELIVERED, "plaintext") in parser.counts
    short_iso = status(11, "A2", "a@p.example", MX, stamp="2026-12-05T10:30:00+0100")
    parser.feed(short_iso)
    assert ("p.example", date(2026, 12, 5), Kind.DELIVERED, "plaintext") in parser.counts


def test_process_state_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postfix_log, "MAX_PROCESSES", 10)
    monkeypatch.setattr(postfix_log, "MAX_QUEUE_IDS", 10)
    parser = PostfixLogParser(now=NOW)
    for n in range(1000):
        parser.feed(tls(n, MX))
        parser.feed(
            status(n, f"Q{n}", "a@p.example", MX, state="deferred", text="Cannot start TLS")
        )
    assert len(parser._sessions) == 10
    assert len(parser._deferred) == 10
    assert deferred(parser) == {"tls-handshake-failed": 1000}


def test_state_survives_a_restart() -> None:
    first = parse(tls(11, MX, "Trusted"))
    second = PostfixLogParser(now=NOW)
    second.restore(first.state())
    second.feed(status(11, "A1", "a@p.example", MX))
    assert delivered(second) == {"trusted": 1}


def test_drain_hands_over_the_counts_once() -> None:
    parser = parse(status(11, "A1", "a@p.example", MX))
    assert sum(parser.drain().values()) == 2
    assert not parser.drain()


def test_json_shape() -> None:
    parser = parse(
        tls(11, MX),
        status(11, "A1", "a@p.example", MX),
        status(
            12, "B1", "b@p.example", MX, state="deferred", text="Server certificate not verified"
        ),
    )
    assert to_json(parser.drain()) == {
        "domains": [
            {
                "domain": "p.example",
                "day": "2026-12-04",
                "delivered": {"verified": 1},
                "deferred": {"certificate-not-verified": 1},
                "tls_versions": {"TLSv1.3": 1},
            }
        ]
    }
