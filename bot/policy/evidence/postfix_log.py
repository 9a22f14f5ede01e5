"""Postfix's delivery log as evidence: a pure, incremental line parser.

Feed it lines (``parser.feed(line)``), take the counts out now and then
(``parser.drain()``). It understands two kinds of line of Postfix's SMTP client
(wording from Postfix's ``src/tls/tls_misc.c`` ``tls_log_summary`` and
``src/global/log_adhoc.c``; TLS lines need ``smtp_tls_loglevel = 1`` or more)::

    … smtp[47]: Verified TLS connection established to mx.p.example[192.0.2.1]:25: TLSv1.3 …
    … smtp[47]: 3F1A2B: to=<a@p.example>, relay=mx.p.example[192.0.2.1]:25, …, status=sent (…)

The TLS line names no queue ID: it belongs to the next delivery that the same
process (host, program, PID) logs *to the same relay*. It is bound to the first
queue ID that uses it, and later deliveries of other messages by that process
over another connection get their own TLS line (or none: ``plaintext``). Several
recipients of one message delivered over one connection share it.

Counted per recipient domain and day:

- ``delivered``: ``status=sent`` over the network by TLS level — Postfix's own
  word in lower case (``verified``, ``trusted``, ``untrusted``, ``anonymous``) or
  ``plaintext`` when no TLS line preceded it — and by TLS version (``TLSv1.3``…);
- ``deferred``: ``status=deferred`` for a TLS reason, once per message and
  recipient (a message retried all day counts once, while this process remembers
  it; after a restart it may count once more):

  ==========================  ===========================================================
  reason                      Postfix says (``src/smtp/smtp_proto.c``)
  ==========================  ===========================================================
  tls-not-offered             "TLS is required, but was not offered by host …", or
                              "… but host … refused to start TLS"
  certificate-not-verified    "Server certificate not verified" ("… not trusted" before 2.?)
  tls-handshake-failed        "Cannot start TLS: handshake failure"
  other-tls                   any other TLS requirement ("… TLS engine is unavailable",
                              REQUIRETLS)
  ==========================  ===========================================================

Days: classic syslog stamps (``Dec  4 18:41:14``; ``maillog_file``; ``journalctl
-o short``) carry neither year nor zone; the day is taken as written, the year
from the injected clock (the latest year that does not put the day more than one
day after "now", so December lines read in January land in the old year). RFC 3339
stamps (``journalctl -o short-iso``, rsyslog's high-precision format) are turned
into UTC days. Run Postfix's host in UTC, or log RFC 3339 stamps, to make days exact.

Memory is bounded: the per-process TLS state and the per-queue-ID memory of
counted deferrals are LRU maps with fixed caps, and a queue ID is forgotten at
its ``removed`` line. A line it does not understand is counted in ``unknown``,
never an error.
"""

from __future__ import annotations

import enum
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import idna


class Level(enum.StrEnum):
    VERIFIED = "verified"
    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"
    ANONYMOUS = "anonymous"
    PLAINTEXT = "plaintext"


class Reason(enum.StrEnum):
    TLS_NOT_OFFERED = "tls-not-offered"
    CERTIFICATE_NOT_VERIFIED = "certificate-not-verified"
    TLS_HANDSHAKE_FAILED = "tls-handshake-failed"
    OTHER_TLS = "other-tls"


class Kind(enum.StrEnum):
    """What one stored count counts."""

    DELIVERED = "delivered"  # name: a Level
    VERSION = "version"  # name: the TLS protocol (TLSv1.3), or "none"
    DEFERRED = "deferred"  # name: a Reason


# Looked up once: enum attribute access is slow in the per-line path.
_DELIVERED, _VERSION, _DEFERRED = Kind.DELIVERED, Kind.VERSION, Kind.DEFERRED
_PLAINTEXT = Level.PLAINTEXT
_LEVELS = {level.value.capitalize(): level for level in Level}


# (domain, day, kind, name) → count
CountKey = tuple[str, date, Kind, str]

MAX_PROCESSES = 10_000  # smtp processes remembered (default_process_limit is 100)
MAX_QUEUE_IDS = 200_000  # messages whose counted deferrals are remembered
SAVED_PROCESSES = 1_000  # process states kept across a restart (the newest)

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_TLS = re.compile(
    r"(Verified|Trusted|Untrusted|Anonymous) TLS connection (?:established|reused) "
    r"to (\S+?): (\S+) with cipher "
)
_STATUS = re.compile(
    r"([0-9A-Za-z]+): to=<(.*?)>, (?:orig_to=<.*?>, )?relay=([^,\s]+),.*? "
    r"status=(\w+)(?: \((.*)\))?$"
)
_REASONS = (
    ("TLS is required, but was not offered", Reason.TLS_NOT_OFFERED),
    ("refused to start TLS", Reason.TLS_NOT_OFFERED),
    ("Server certificate not verified", Reason.CERTIFICATE_NOT_VERIFIED),
    ("Server certificate not trusted", Reason.CERTIFICATE_NOT_VERIFIED),
    ("Cannot start TLS", Reason.TLS_HANDSHAKE_FAILED),
    ("TLS handshake", Reason.TLS_HANDSHAKE_FAILED),
)


def tls_reason(text: str) -> Reason | None:
    """The TLS reason of a deferral's text, ``None`` when it is not about TLS."""
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    if "TLS" in text:
        return Reason.OTHER_TLS
    return None


@dataclass(slots=True)
class _Session:
    """The last TLS line of one process: to whom, at what level, bound to which message."""

    relay: str
    level: Level
    version: str
    queue_id: str | None = None


@dataclass(slots=True)
class Stats:
    lines: int = 0
    matched: int = 0  # TLS and delivery-status lines used
    ignored: int = 0  # log lines of no interest (other programs, other messages)
    unknown: int = 0  # not understood


@dataclass
class PostfixLogParser:
    """Feed lines, drain counts. ``now`` only dates classic syslog stamps (the year)."""

    now: datetime
    counts: Counter[CountKey] = field(default_factory=Counter)
    stats: Stats = field(default_factory=Stats)
    _sessions: OrderedDict[str, _Session] = field(default_factory=OrderedDict)
    _deferred: OrderedDict[str, set[str]] = field(default_factory=OrderedDict)
    _days: dict[str, date | None] = field(default_factory=dict)

    def feed(self, line: str) -> None:
        self.stats.lines += 1
        if " TLS connection " in line:
            self._tls(line)
        elif ": to=<" in line:
            self._status(line)
        elif line.endswith(": removed"):
            self._removed(line)
        elif _looks_like_log(line):
            self.stats.ignored += 1
        else:
            self.stats.unknown += 1

    def feed_all(self, lines: Any) -> None:
        for line in lines:
            self.feed(line)

    def drain(self) -> Counter[CountKey]:
        """The counts since the last drain (and forget them here)."""
        out, self.counts = self.counts, Counter()
        return out

    # -- the two lines ------------------------------------------------------------

    def _tls(self, line: str) -> None:
        head = _header(line)
        found = _TLS.search(line, head[2]) if head else None
        if head is None or found is None:
            self.stats.unknown += 1
            return
        level, relay, version = found.groups()
        self._remember(head[1], _Session(relay, _LEVELS[level], version))
        self.stats.matched += 1

    def _status(self, line: str) -> None:
        head = _header(line)
        found = _STATUS.match(line, head[2]) if head else None
        if head is None or found is None:
            self.stats.unknown += 1
            return
        queue_id, recipient, relay, status, text = found.groups()
        domain = domain_of(recipient)
        day = self._day(line, head[0])
        if domain is None or day is None:
            self.stats.unknown += 1
            return
        self.stats.matched += 1
        if status == "sent":
            if "[" not in relay:  # local, virtual, pipe: not a network delivery
                return
            session = self._sessions.get(head[1])
            if (
                session is not None
                and session.relay == relay
                and session.queue_id in (None, queue_id)
            ):
                session.queue_id = queue_id
                level, version = session.level, session.version
            else:
                level, version = _PLAINTEXT, "none"
            self.counts[(domain, day, _DELIVERED, level)] += 1
            self.counts[(domain, day, _VERSION, version)] += 1
        elif status == "deferred" and text:
            reason = tls_reason(text)
            if reason is None:
                return
            seen = self._deferred.get(queue_id)
            if seen is None:
                seen = self._deferred[queue_id] = set()
                if len(self._deferred) > MAX_QUEUE_IDS:
                    self._deferred.popitem(last=False)
            else:
                self._deferred.move_to_end(queue_id)
            key = f"{recipient}\0{reason}"
            if key not in seen:
                seen.add(key)
                self.counts[(domain, day, _DEFERRED, reason)] += 1

    def _removed(self, line: str) -> None:
        head = _header(line)
        if head is None:
            self.stats.unknown += 1
            return
        self._deferred.pop(line[head[2] : -len(": removed")], None)
        self.stats.ignored += 1

    def _remember(self, process: str, session: _Session) -> None:
        self._sessions[process] = session
        self._sessions.move_to_end(process)
        if len(self._sessions) > MAX_PROCESSES:
            self._sessions.popitem(last=False)

    def _day(self, line: str, stamp_end: int) -> date | None:
        if line[:1].isdigit():
            return iso_day(line[:stamp_end])
        key = line[:6]
        if key not in self._days:
            self._days[key] = syslog_day(key, self.now)
        return self._days[key]

    # -- what survives a restart ---------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The per-process TLS state (the newest ``SAVED_PROCESSES``), as plain JSON."""
        newest = list(self._sessions.items())[-SAVED_PROCESSES:]
        return {
            "sessions": [[key, s.relay, s.level.value, s.version, s.queue_id] for key, s in newest]
        }

    def restore(self, state: dict[str, Any] | None) -> None:
        for key, relay, level, version, queue_id in (state or {}).get("sessions", []):
            self._remember(str(key), _Session(str(relay), Level(level), str(version), queue_id))


def _looks_like_log(line: str) -> bool:
    return (line[:3] in _MONTHS or line[:4].isdigit()) and ": " in line


def _header(line: str) -> tuple[int, str, int] | None:
    """(end of the time stamp, "host program[pid]", start of the message), or ``None``.

    ``Mmm dd hh:mm:ss host program[pid]: message`` or ``<RFC 3339> host program[pid]: …``.
    """
    if line[:1].isdigit():
        stamp_end = line.find(" ")
    elif line[:3] in _MONTHS:
        stamp_end = line.find(":", 7) + 6  # "Dec  4 18:41:14": past the minutes' colon
    else:
        return None
    colon = line.find("]: ", stamp_end)
    if stamp_end <= 0 or colon < 0:
        return None
    return stamp_end, line[stamp_end + 1 : colon + 1], colon + 3


def syslog_day(stamp: str, now: datetime) -> date | None:
    """``"Dec  4"`` → the latest such day not more than one day after ``now``'s date."""
    month = _MONTHS.get(stamp[:3])
    try:
        day_of_month = int(stamp[4:6])
    except ValueError:
        return None
    if month is None:
        return None
    limit = now.astimezone(UTC).date() + timedelta(days=1)
    for year in range(limit.year, limit.year - 5, -1):
        try:
            candidate = date(year, month, day_of_month)
        except ValueError:
            continue  # 29 Feb of a year that has none
        if candidate <= limit:
            return candidate
    return None


def iso_day(stamp: str) -> date | None:
    """An RFC 3339 stamp → its UTC day (a stamp without zone is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


def domain_of(address: str) -> str | None:
    """The normalised domain of a logged recipient address (A-labels, lower case)."""
    _, at, domain = address.rpartition("@")
    return normal_domain(domain) if at and domain else None


@lru_cache(maxsize=65_536)
def normal_domain(domain: str) -> str | None:
    domain = domain.rstrip(".").lower()
    if domain.isascii():
        return domain or None
    try:
        return idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None


def to_json(counts: Counter[CountKey]) -> dict[str, Any]:
    """``{"domains": [{"domain", "day", "delivered", "deferred", "tls_versions"}]}``."""
    rows: dict[tuple[str, date], dict[str, Any]] = {}
    for (domain, day, kind, name), n in sorted(counts.items()):
        row = rows.setdefault(
            (domain, day),
            {"domain": domain, "day": day.isoformat(), "delivered": {}, "deferred": {}},
        )
        slot = {Kind.DELIVERED: "delivered", Kind.DEFERRED: "deferred"}.get(kind, "tls_versions")
        row.setdefault(slot, {})[name] = n
    return {"domains": list(rows.values())}
