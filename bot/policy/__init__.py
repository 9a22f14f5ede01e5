"""The policy store: routes, domain policies, change requests, approvals, audit trail.

No Slack here; every rule is testable without it. Modules, one idea each:

- ``types``       Actor, StrEnums (RequestKind, RequestState, …), UTC timestamps
- ``models``      SQLModel tables (schema changes: Alembic, ``migrations/``)
- ``db``          engines, sessions, ``upgrade``, ``check_schema``, ``open_checked``
- ``errors``      the domain error tree (``str()`` is one sentence for a person)
- ``validations`` probe results stored as evidence
- ``batch``       pasted text → classified domain lines (≤ 50 a batch)
- ``drafts``      a user's unsaved batch, versioned, in the database
- ``requests``    proposing change requests; ``revert``
- ``approvals``   approve / reject / expire, each exactly once
- ``apply``       what an approved request does, and its inverse
- ``audit``       the hash-chained trail: append, verify, export
- ``queries``     lists, counts, the summary

See docs/policy.md for the API summary.
"""
