"""Fixtures shared by the policy tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def overlapping_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let two pending requests share a subject, as tlsbot before the pending check did.

    Databases written then may still hold such pairs; the tests that use this prove
    that approval still supersedes the loser instead of applying both.
    """
    import bot.policy.requests as requests_module

    monkeypatch.setattr(requests_module, "_pending_conflict", lambda *_args: None)
