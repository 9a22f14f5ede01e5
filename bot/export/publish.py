"""The one audited publish step, for every gateway that gets files.

:func:`publish` is one unit of work: read the published policies and the audit
head, validate them (:func:`bot.export.names.enforcement`), render the
gateway's files (:data:`bot.export.registry.GATEWAYS`), append an
``export.published`` event (gateway, target, the entries per list, what was
dropped and each file's SHA-256), hand the files to ``write``, commit. If
writing fails the event is rolled back; nothing is half recorded.

``export postfix`` writes both tables atomically (:func:`export_postfix`);
``export exchange`` / ``export google`` write the hand-over file; the Slack
hand-over records its hand-over row in the same transaction (``on_published``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot.export.files import write_files
from bot.export.gateway import GatewayName, Stamp
from bot.export.model import MapName
from bot.export.names import Enforcement, enforcement
from bot.export.registry import GATEWAYS
from bot.export.store import audit_head, load_published
from bot.export.tables import Tables, tables_of
from bot.policy import audit
from bot.policy.db import transaction
from bot.policy.types import SYSTEM, Actor


@dataclass(frozen=True)
class Published:
    gateway: GatewayName
    target: str
    view: Enforcement
    files: dict[str, str]  # name → text, with its header
    at: datetime
    source_seq: int  # the audit event the store was at when read
    event_seq: int  # the publication's own audit event
    sha256: dict[str, str]  # of each file's bare content (without its header)
    counts: Mapping[str, int] = field(default_factory=dict)


def publish(
    *,
    session: Session,
    gateway: GatewayName,
    target: str,
    write: Callable[[dict[str, str]], None] | None = None,
    actor: Actor = SYSTEM,
    now: datetime,
    extra: dict[str, Any] | None = None,
    on_published: Callable[[Session, Published], None] | None = None,
) -> Published:
    """Render ``gateway``'s files from the store and record it; ``write`` gets the files."""
    adapter = GATEWAYS[gateway]
    if adapter.render is None:
        raise ValueError(f"{adapter.title} has no files to publish")
    at = now.astimezone(UTC)
    with transaction(session):
        source_seq, source_hash = audit_head(session)
        view = enforcement(load_published(session))
        bare = adapter.render(view, None)
        sha = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in bare.items()}
        counts = dict(adapter.counts(view)) if adapter.counts is not None else {}
        event = audit.append(
            session=session,
            actor=actor,
            action=audit.AuditAction.EXPORT_PUBLISHED,
            subject=f"{gateway.value}:{target}",
            after={
                **(extra or {}),
                "gateway": gateway.value,
                "target": target,
                "source_seq": source_seq,
                "entries": counts,
                "sha256_of_entries": sha,
                "rejected": [str(r) for r in view.rejected],
            },
            now=at,
        )
        files = adapter.render(view, Stamp(at, source_seq, source_hash, event.seq))
        published = Published(gateway, target, view, files, at, source_seq, event.seq, sha, counts)
        if on_published is not None:
            on_published(session, published)
        if write is not None:
            write(files)
    return published


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    tables: Tables
    at: datetime
    source_seq: int  # the audit event the store was at when read
    event_seq: int  # the export's own audit event
    sha256: dict[str, str]

    def path(self, name: MapName) -> Path:
        return self.directory / name.value


def export_postfix(
    *, session: Session, directory: Path, actor: Actor = SYSTEM, now: datetime
) -> ExportResult:
    """Write ``directory/tls_policy`` and ``directory/tls_inbound``; one audit event."""
    done = publish(
        session=session,
        gateway=GatewayName.POSTFIX,
        target=str(directory),
        write=lambda files: write_files(directory, files),
        actor=actor,
        now=now,
        extra={"directory": str(directory)},
    )
    return ExportResult(
        directory, tables_of(done.view), done.at, done.source_seq, done.event_seq, done.sha256
    )


def write_one(path: Path) -> Callable[[dict[str, str]], None]:
    """A ``write`` for a gateway with one file: that file, written atomically at ``path``."""

    def write(files: dict[str, str]) -> None:
        (text,) = files.values()
        write_files(path.parent, {path.name: text})

    return write


DNSSEC_LINES = """\
# dane-only entries (partners whose every MX host has a DNSSEC-validated TLSA record
# that matched) need DNSSEC lookups from a validating resolver on this host, named in
# /etc/resolv.conf as 127.0.0.1 with "options trust-ad" (see docs/enforcement.md):
smtp_dns_support_level = dnssec
"""


def socketmap_main_cf_lines(listen: str, *, dnssec: bool = False) -> str:
    """The ``main.cf`` settings that point Postfix at ``tlsbot socketmap`` on ``listen``."""
    return (
        f"smtp_tls_policy_maps = socketmap:inet:{listen}:tls_policy\n"
        "smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt\n"
        "smtpd_tls_security_level = may\n"
        f"smtpd_sender_restrictions = check_sender_access socketmap:inet:{listen}:tls_inbound\n"
        + (DNSSEC_LINES if dnssec else "")
    )


def main_cf_lines(
    directory: Path, *, map_type: str = "hash", socketmap: str, dnssec: bool = False
) -> str:
    """The ``main.cf`` settings (and ``postmap`` step) that put the tables to use;
    ``dnssec``: some entry is ``dane-only``, which needs ``smtp_dns_support_level``."""
    policy = directory / MapName.TLS_POLICY.value
    inbound = directory / MapName.TLS_INBOUND.value
    dane = DNSSEC_LINES if dnssec else ""
    return f"""\
# 1. Index the files after every export (Postfix notices the new maps by itself):
#      postmap {map_type}:{policy}
#      postmap {map_type}:{inbound}
# 2. main.cf:
smtp_tls_policy_maps = {map_type}:{policy}
smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt
smtpd_tls_security_level = may
smtpd_sender_restrictions = check_sender_access {map_type}:{inbound}
#    (keep your other sender restrictions after it; see docs/enforcement.md)
{dane}#
# Or, live from `tlsbot socketmap` (no files, no postmap, no reload):
# smtp_tls_policy_maps = socketmap:inet:{socketmap}:tls_policy
# smtpd_sender_restrictions = check_sender_access socketmap:inet:{socketmap}:tls_inbound
"""
