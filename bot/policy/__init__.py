"""The policy store: routes, domain policies, change requests, approvals, audit trail.

No Slack here; every rule is testable without it. Modules, one idea each:

- ``types``          Actor, StrEnums (RequestKind, RequestState, …), UTC timestamps
- ``levels``         PolicyLevel (the one strict/relaxed enum) and PolicyMode, DB-free
- ``models``         SQLModel tables (schema changes: Alembic, ``migrations/``)
- ``db``             engines, sessions, ``upgrade``, ``check_schema``, ``open_checked``
- ``errors``         the domain error tree (``str()`` is one sentence for a person)
- ``validations``    probe results stored as evidence, and read back typed (``Checked``)
- ``batch``          pasted text → classified domain lines (≤ 50 a batch)
- ``drafts``         a user's unsaved batch, versioned, in the database
- ``requests``       proposing change requests; ``revert``
- ``route_requests`` proposing to add or remove an inbound route
- ``approvals``      approve / reject / expire, each exactly once
- ``apply``          what an approved request does, and its inverse
- ``gateway_ops``    the approved *Revert* of a Mimecast drift
- ``announcements``  where each request was posted, so its message can be updated
- ``notices``        the outbox: what a decision must show, in its own transaction
- ``seen``           keys of requests already acted on (replays and retries)
- ``audit``          the hash-chained trail: append, verify, export
- ``append_only``    the database refuses UPDATE / DELETE on the trail
- ``queries``        lists, counts, the summary
- ``monitor/``       re-validation on a schedule, the alert state machine, its history
                     and the ``/tls status`` listing (``monitor/history.py``)
- ``evidence/``      real mail: TLS-RPT reports and Postfix's log, per domain

Enforcement on the gateways is ``bot.export``, a package of its own above this one.
See docs/policy.md for the API summary.
"""
