"""Listener modules; each offers ``register(app)``."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners import (
    approvals,
    batch,
    commands,
    domains,
    evidence,
    gateways,
    home,
    monitor,
    routes,
    workflow,
)


def register(app: AsyncApp) -> None:
    for module in (
        commands,
        routes,
        batch,
        domains,
        approvals,
        home,
        monitor,
        gateways,
        evidence,
        workflow,
    ):
        module.register(app)
