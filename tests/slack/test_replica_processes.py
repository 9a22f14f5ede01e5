"""Two real ``tlsbot serve`` processes over one database serve one flow, request by request.

Nothing is shared between the two but the database: each is its own Python process
started with ``python -m bot serve``, configured only through the environment. The
processes reach only loopback: the Slack Web API stand-in, the loopback DNS and SMTP
servers of the mail world, and the test database (the test's network guard does not
follow them into the subprocess, so nothing else is configured there).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.clock import system_clock
from bot.policy.approvals import approve
from bot.policy.queries import list_policies
from bot.policy.requests import Rules
from bot.policy.route_requests import propose_add_route
from bot.policy.types import Actor
from bot.policy.validations import record_validation
from bot.slack.ids import Action, Block, Field, View
from tests.slack.conftest import APPROVAL_CHANNEL, APPROVER, APPROVER_2, REQUESTER, SECRET
from tests.slack.net import Net
from tests.slack.steps import approval_message, has
from tests.support.certs import Pki
from tests.support.db import TestDatabase
from tests.support.slack_api import SlackApi
from tests.support.slack_client import SlackClient
from tests.support.smtp_server import free_port

pytestmark = [pytest.mark.timeout(120), pytest.mark.db]

ROOT = Path(__file__).resolve().parents[2]


def serve_env(
    database: TestDatabase, api: SlackApi, world: Net, pki: Pki, port: int
) -> dict[str, str]:
    probe = world.prober.settings
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TLSBOT_", "SLACK_")) and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=database.url_with_schema,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api.base_url + "api/",
        PORT=str(port),
        TLSBOT_APPROVERS=f"{APPROVER},{APPROVER_2}",
        TLSBOT_APPROVAL_CHANNEL=APPROVAL_CHANNEL,
        TLSBOT_DNS_SERVERS="{}:{}".format(*probe.dns_servers[0]),
        TLSBOT_SMTP_PORT=str(probe.smtp_port),
        TLSBOT_CA_FILE=str(pki.ca_file),
        TLSBOT_PROBE_ALLOW_NETWORKS="127.0.0.0/8",
        TLSBOT_ROUTE_ALLOW_NETWORKS="127.0.0.0/8",
        TLSBOT_PROBE_TIMEOUT="3",
        TLSBOT_EHLO_NAME="tlsbot.corp.test",
    )
    return env


async def wait_healthy(port: int, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert process.returncode is None, log.read_text()
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError(f"tlsbot serve did not come up on port {port}: {log.read_text()}")


@pytest.fixture
async def two_processes(
    database: TestDatabase,
    engine: Engine,
    slack_api: SlackApi,
    world: Net,
    pki: Pki,
    tmp_path: Path,
) -> AsyncIterator[list[SlackClient]]:
    processes: list[tuple[asyncio.subprocess.Process, Path]] = []
    clients = []
    try:
        for n in range(2):
            port = free_port()
            log = tmp_path / f"serve-{n}.log"
            with log.open("wb") as sink:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1",
                    cwd=ROOT,
                    env=serve_env(database, slack_api, world, pki, port),
                    stdout=sink,
                    stderr=sink,
                )  # fmt: skip
            processes.append((process, log))
            await wait_healthy(port, process, log)
            clients.append(SlackClient(f"http://127.0.0.1:{port}/slack/events", SECRET, slack_api))
        yield clients
    finally:
        for process, _ in processes:
            if process.returncode is None:
                process.terminate()
        for process, log in processes:
            code = await asyncio.wait_for(process.wait(), 20)
            assert code == 0, log.read_text()  # SIGTERM is a clean stop


def approved_route(session: Session, result_port: int, result: object) -> None:
    ann, bo = Actor(REQUESTER, "ann"), Actor(APPROVER, "bo")
    validation = record_validation(session=session, result=result, actor=ann, now=system_clock())  # type: ignore[arg-type]
    request = propose_add_route(
        session=session,
        requester=ann,
        route=f"mx1.corp.test:{result_port}",
        validation_id=validation.id,
        rules=Rules(),
        now=system_clock(),
    )
    assert request.id is not None
    approve(
        session=session,
        request_id=request.id,
        approver=bo,
        is_approver=lambda _: True,
        now=system_clock(),
    )
    record_validation(session=session, result=result, actor=ann, now=system_clock())  # type: ignore[arg-type]


async def test_one_flow_alternating_between_two_serve_processes(
    two_processes: list[SlackClient], slack_api: SlackApi, world: Net, session: Session
) -> None:
    # Given an inbound route already in force, validated strict
    port = world.prober.settings.smtp_port
    approved_route(session, port, await world.prober.probe_route("mx1.corp.test", port))
    a, b = two_processes
    api = slack_api

    # When every step of the flow goes to the other process than the step before
    await a.command("setup", user=REQUESTER)
    await api.wait_for("views.open")
    view_id = next(iter(api.views))
    view = await api.wait_view(view_id, has("Strict - Trusted Enforced", callback=View.ROUTES))
    await b.click_in_view(view, Action.ROUTES_NEXT)
    view = await api.wait_view(view_id, has(callback=View.DOMAINS))
    await a.click_in_view(view, Action.DOMAINS_ADD)
    view = await api.wait_view(view_id, has(callback=View.DOMAINS_ADD))
    text = "partner.test\nsupplier.test\nnot a domain"
    answer = await b.submit(view, {Block.DOMAINS: {Field.DOMAINS: text}})
    assert answer.json["response_action"] == "update"
    view = api.views[view_id]
    assert "2 domains ready to add" in str(view["blocks"])
    answer = await a.submit(view)  # Add: the validation runs in process a
    assert answer.json["response_action"] == "update"
    view = await api.wait_view(view_id, has("Supports TLS", absent=("Validating",)), timeout=30)
    await b.click_in_view(view, Action.FINISH)
    view = await api.wait_view(view_id, has(callback=View.SUMMARY))
    request = int(str(view["blocks"]).split("Change request #")[1].split(" ")[0])
    message = await approval_message(api, request)
    await a.click_in_message(message, Action.APPROVE, str(request), user=APPROVER)
    await api.wait_for("chat.update")
    await b.click_in_view(view, Action.EDIT)

    # Then the flow ends as if one process had served it
    await api.wait_view(view_id, has("2 external domain TLS policies in force"))
    session.expire_all()
    assert [p.domain for p in list_policies(session=session)] == ["partner.test", "supplier.test"]
