"""Domain errors of the policy store.

Every error a person can cause is one of this small tree; ``str()`` is one
sentence for that person, so the Slack layer and the CLI show it as it is::

    PolicyError
    ├── NotFound        — no such request, draft, policy, route or validation
    ├── NotAllowed      — the actor may not do this (own request, not an approver)
    ├── InvalidState    — the thing is not in a state that allows this
    │   └── StaleDraft  — the draft changed since the caller read it
    ├── InvalidInput    — bad input outside batch entry (empty reason, bad route)
    ├── BatchError      — a batch cannot be used as it is (too many lines, unvalidated)
    ├── SchemaOutdated  — the database schema is not the one this code needs
    └── DatabaseUnavailable — the database cannot be reached or opened

Expected outcomes (a line that is a duplicate, a request that turned out to be
superseded) are values, not errors; see ``batch.BatchLine`` and ``requests.Decision``.
"""

from __future__ import annotations


class PolicyError(Exception):
    """Base of the policy store's errors; ``str()`` is one sentence for a person."""


class NotFound(PolicyError):
    """No such request, draft, policy, route or validation."""


class NotAllowed(PolicyError):
    """The actor may not do this."""


class InvalidState(PolicyError):
    """The object is not in a state that allows this."""


class StaleDraft(InvalidState):
    """The draft changed since the caller read it (optimistic concurrency)."""


class InvalidInput(PolicyError):
    """Input that cannot be used as it is."""


class BatchError(InvalidInput):
    """A batch of domains cannot be used as it is."""


class SchemaOutdated(PolicyError):
    """The database schema is missing or older (or newer) than this code's."""


class DatabaseUnavailable(PolicyError):
    """The database cannot be reached or opened."""
