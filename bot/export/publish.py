"""``export postfix``: both tables as files, recorded in the audit trail.

One unit of work: read the published policies and the audit head, append an
``export.published`` event (with the counts, what was dropped and each file's
SHA-256), write both files atomically, commit. If writing fails the event is
rolled back; the old files stay whole.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from bot.export.files import write_files
from bot.export.model import MapName
from bot.export.store import audit_head, load_published
from bot.export.tables import Tables, build_tables, render
from bot.policy import audit
from bot.policy.db import transaction
from bot.policy.types import SYSTEM, Actor

_PURPOSE = {
    MapName.TLS_POLICY: "Postfix smtp_tls_policy_maps (outbound, Secure Delivery)",
    MapName.TLS_INBOUND: "Postfix check_sender_access table (inbound, Secure Receipt)",
}


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
    at = now.astimezone(UTC)
    with transaction(session):
        source_seq, source_hash = audit_head(session)
        tables = build_tables(load_published(session))
        bodies = {name: render(tables.table(name)) for name in MapName}
        sha = {name.value: hashlib.sha256(b.encode()).hexdigest() for name, b in bodies.items()}
        event = audit.append(
            session=session,
            actor=actor,
            action=audit.AuditAction.EXPORT_PUBLISHED,
            subject=f"postfix:{directory}",
            after={
                "directory": str(directory),
                "source_seq": source_seq,
                "entries": {name.value: len(tables.table(name)) for name in MapName},
                "sha256_of_entries": sha,
                "rejected": [str(r) for r in tables.rejected],
            },
            now=at,
        )
        stamp = at.isoformat(timespec="seconds").replace("+00:00", "Z")
        files = {
            name.value: render(
                tables.table(name),
                [
                    f"{name.value}: {_PURPOSE[name]}.",
                    "Written by `tlsbot export postfix`; do not edit, the next export replaces it.",
                    f"Produced {stamp} from the policy store as of audit event #{source_seq} "
                    f"({source_hash[:16]}); recorded as audit event #{event.seq}.",
                    f"{len(tables.table(name))} entries.",
                ],
            )
            for name in MapName
        }
        write_files(directory, files)
    return ExportResult(directory, tables, at, source_seq, event.seq, sha)


def main_cf_lines(directory: Path, *, map_type: str = "hash", socketmap: str) -> str:
    """The ``main.cf`` settings (and ``postmap`` step) that put the tables to use."""
    policy = directory / MapName.TLS_POLICY.value
    inbound = directory / MapName.TLS_INBOUND.value
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
#
# Or, live from `tlsbot socketmap` (no files, no postmap, no reload):
# smtp_tls_policy_maps = socketmap:inet:{socketmap}:tls_policy
# smtpd_sender_restrictions = check_sender_access socketmap:inet:{socketmap}:tls_inbound
"""
