"""The few facts the store takes from the probe's result model."""

from __future__ import annotations

from bot.probe.model import Verdict


def ok_verdict(value: str | None) -> bool:
    """Strict or relaxed: TLS a policy can enforce."""
    return value in (Verdict.STRICT.value, Verdict.RELAXED.value)


def verdict_label(value: str | None) -> str:
    if value is None:
        return "Not validated"
    try:
        return Verdict(value).label
    except ValueError:
        return "Not validated"
