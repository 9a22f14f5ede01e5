"""The level and the mode of a policy: plain enums, importable without the database.

:class:`PolicyLevel` is the one strict/relaxed enum: the store keeps it, ``bot.export``
publishes it (``bot.export.model.Level`` is this enum), and the CLI's light commands
can name it without loading SQLAlchemy.
"""

from __future__ import annotations

import enum


class PolicyLevel(enum.StrEnum):
    """How strictly mail to a domain must be secured: the one strict/relaxed enum
    (``bot.export`` publishes it as is)."""

    STRICT = "strict"  # TLS 1.2+, certificate verified against the validated MX names
    RELAXED = "relaxed"  # TLS 1.2+, encryption mandatory, certificate not verified


class PolicyMode(enum.StrEnum):
    ENFORCE = "enforce"
    OBSERVE = "observe"
