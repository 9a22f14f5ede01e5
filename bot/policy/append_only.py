"""The audit table refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) in the database.

The hash chain makes tampering *evident* (``tlsbot audit verify``); these triggers make
the trail append-only for every client of the database, tlsbot included. Rewriting it
takes the right to drop triggers — a DDL privilege the application's role need not
have — and even then the chain shows it. Installed by migration ``b0001``.
"""

from __future__ import annotations

MESSAGE = "audit_event is append-only"

_POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tlsbot_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}';
END
$$ LANGUAGE plpgsql
"""


def install_statements(dialect: str) -> list[str]:
    """DDL that makes ``audit_event`` append-only on ``dialect`` (sqlite or postgresql)."""
    if dialect == "postgresql":
        return [
            _POSTGRESQL_FUNCTION,
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION tlsbot_audit_append_only()",
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION tlsbot_audit_append_only()",
        ]
    return [
        f"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
        f"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    ]


def remove_statements(dialect: str) -> list[str]:
    """DDL that undoes :func:`install_statements` (the function itself stays on PostgreSQL)."""
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
            "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
        ]
    return [
        "DROP TRIGGER IF EXISTS audit_event_no_update",
        "DROP TRIGGER IF EXISTS audit_event_no_delete",
    ]
