"""Identity: a signed request from another team (or from no team) is refused before any
listener runs; an org-wide Enterprise Grid install covers every team of its enterprise."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlmodel import select

from bot.policy.models import Draft
from bot.slack.app import build_client
from bot.slack.identity import OUTSIDER, Gate, Installation
from bot.slack.ids import Action
from tests.slack.conftest import APPROVER, Bot, make_settings
from tests.slack.hostile import FORM, JSON, assert_no_traceback, command, form, watch_logs
from tests.support.recorder import Recorder
from tests.support.slack_api import TEAM, SlackApi, all_text

pytestmark = [pytest.mark.timeout(30), pytest.mark.db]

OTHER_TEAM = "T0OUTSIDE"
ENTERPRISE = "E0000001"


def acted(bot: Bot) -> list[str]:
    """Every Web API call but the installation lookup."""
    return [c.method for c in bot.api.calls if c.method != "auth.test"]


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.slack.identity"]


def click(**fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": APPROVER, "username": "approver", "team_id": TEAM},
        "api_app_id": "A0000001",
        "trigger_id": "2.trigger",
        "container": {"type": "view", "view_id": "V1"},
        "view": {"id": "V1", "type": "home", "callback_id": "tls_home"},
        "actions": [{"type": "button", "action_id": Action.HOME_SETUP, "block_id": "b"}],
    }
    payload.update(fields)
    return payload


def event(**fields: Any) -> bytes:
    body = {
        "type": "event_callback",
        "team_id": TEAM,
        "api_app_id": "A0000001",
        "event": {"type": "app_home_opened", "user": APPROVER, "channel": "D1", "tab": "home"},
        "event_id": "Ev1",
        "event_time": 1,
    }
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


async def test_the_installing_teams_requests_are_served(bot: Bot, recorder: Recorder) -> None:
    assert "/tls setup" in (await bot.slack.post_bytes(command(recorder), FORM)).text
    assert (await bot.slack.post_bytes(form(click()), FORM)).status == 200
    assert (await bot.slack.post_bytes(event(), JSON)).status == 200
    await bot.api.wait_for("views.publish")
    await bot.settle()
    assert "views.open" in acted(bot)


async def test_a_command_from_another_team_is_refused_with_nothing_done(
    bot: Bot, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    watch_logs(caplog)
    answer = await bot.slack.post_bytes(command(recorder, "setup", team=OTHER_TEAM), FORM)
    # one ephemeral line, in the answer itself: no response_url, no Web API call
    assert answer.status == 200
    assert answer.json == {"response_type": "ephemeral", "text": f":no_entry: {OUTSIDER}"}
    await bot.settle()
    assert acted(bot) == []
    assert recorder.requests == []
    assert refusals(caplog) == [
        f"refused a slash command from {OTHER_TEAM}: installed in team {TEAM}"
    ]
    assert_no_traceback(caplog)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"user": {"id": APPROVER, "team_id": OTHER_TEAM}}, id="user-of-another-team"),
        pytest.param({"team": {"id": OTHER_TEAM}}, id="from-another-team"),
    ],
)
async def test_a_slack_connect_users_click_is_refused_with_one_ephemeral_line(
    bot: Bot, caplog: pytest.LogCaptureFixture, fields: dict[str, Any]
) -> None:
    watch_logs(caplog)
    payload = click(**fields)
    payload["container"] = {"type": "message", "message_ts": "1.000001", "channel_id": "CSHARED1"}
    payload["channel"] = {"id": "CSHARED1", "name": "shared-with-partner"}
    payload["response_url"] = bot.api.response_url("msg")
    answer = await bot.slack.post_bytes(form(payload), FORM)
    assert answer.status == 200
    await bot.settle()
    assert acted(bot) == ["response_url"]  # Set up would open a modal: nothing else happened
    (said,) = bot.api.of("response_url")
    assert said.body["text"] == f":no_entry: {OUTSIDER}"
    assert said.body["response_type"] == "ephemeral"
    assert len(refusals(caplog)) == 1
    assert_no_traceback(caplog)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"team": None, "user": {"id": APPROVER}}, id="no-team-at-all"),
        pytest.param(
            {"team": None, "user": {"id": APPROVER}, "enterprise": {"id": ENTERPRISE}},
            id="an-enterprise-but-no-org-wide-install",
        ),
    ],
)
async def test_a_click_not_from_the_installing_team_is_refused_before_any_listener(
    bot: Bot, caplog: pytest.LogCaptureFixture, fields: dict[str, Any]
) -> None:
    watch_logs(caplog)
    answer = await bot.slack.post_bytes(form(click(**fields)), FORM)
    assert answer.status == 403
    await bot.settle()
    assert acted(bot) == []  # Set up would open a modal
    assert len(refusals(caplog)) == 1
    assert_no_traceback(caplog)


async def test_an_outsiders_approve_click_decides_nothing_and_says_so_once(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    watch_logs(caplog)
    outsider = {"id": APPROVER, "username": "approver", "team_id": OTHER_TEAM}
    answer = await bot.slack.post_bytes(
        form(
            click(
                user=outsider,
                actions=[{"action_id": Action.APPROVE, "block_id": "b", "value": "1"}],
                response_url=bot.api.response_url("msg"),
            )
        ),
        FORM,
    )
    assert answer.status == 200
    await bot.settle()
    # no usergroups lookup, no "not an approver", no decision: the one line only
    assert acted(bot) == ["response_url"]
    assert OUTSIDER in bot.api.of("response_url")[0].body["text"]
    assert len(refusals(caplog)) == 1


async def test_an_event_from_another_team_is_acknowledged_and_ignored(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    watch_logs(caplog)
    for body in (event(team_id=OTHER_TEAM), event(team_id=None)):
        answer = await bot.slack.post_bytes(body, JSON)
        assert answer.status == 200  # anything else and Slack sends it again
        assert answer.text == ""
    await bot.settle()
    await asyncio.sleep(0.2)  # an event's listener runs after the ack: give it the time
    assert acted(bot) == []
    assert len(refusals(caplog)) == 2


async def test_a_workspace_install_in_a_grid_does_not_cover_the_other_workspaces(
    bot: Bot, recorder: Recorder
) -> None:
    bot.api.enterprise_id = ENTERPRISE
    sibling = command(recorder, team="T0SIBLING") + b"&enterprise_id=" + ENTERPRISE.encode()
    assert OUTSIDER in (await bot.slack.post_bytes(sibling, FORM)).text
    ours = command(recorder) + b"&enterprise_id=" + ENTERPRISE.encode()
    assert "/tls setup" in (await bot.slack.post_bytes(ours, FORM)).text
    org_user = click(user={"id": APPROVER, "team_id": ENTERPRISE}, enterprise={"id": ENTERPRISE})
    assert (await bot.slack.post_bytes(form(org_user), FORM)).status == 200
    only_org = click(team=None, user={"id": APPROVER, "team_id": ENTERPRISE})
    assert (await bot.slack.post_bytes(form(only_org), FORM)).status == 200
    await bot.settle()
    assert OUTSIDER in all_text(bot.api.calls[-1].body)  # told, privately, and nothing else


async def test_an_org_wide_grid_install_covers_every_team_of_its_enterprise_only(
    bot: Bot, recorder: Recorder
) -> None:
    bot.api.team, bot.api.enterprise_id, bot.api.org_wide = None, ENTERPRISE, True
    in_org = command(recorder, team="T0ANYTEAM") + b"&enterprise_id=" + ENTERPRISE.encode()
    assert "/tls setup" in (await bot.slack.post_bytes(in_org, FORM)).text
    clicked = click(team=None, user={"id": APPROVER, "team_id": "T0ANYTEAM"})
    clicked["enterprise"] = {"id": ENTERPRISE, "name": "Corp"}
    assert (await bot.slack.post_bytes(form(clicked), FORM)).status == 200
    other_org = command(recorder, team="T0ANYTEAM") + b"&enterprise_id=E0OTHER"
    assert OUTSIDER in (await bot.slack.post_bytes(other_org, FORM)).text
    no_org = command(recorder, team="T0ANYTEAM")
    assert OUTSIDER in (await bot.slack.post_bytes(no_org, FORM)).text


async def test_the_installation_is_looked_up_once(bot: Bot, recorder: Recorder) -> None:
    for _ in range(3):
        await bot.slack.post_bytes(command(recorder), FORM)
        await bot.slack.post_bytes(command(recorder, team=OTHER_TEAM), FORM)
    # one lookup is Bolt's own (its single-workspace authorisation), one ours
    assert len(bot.api.of("auth.test")) == 2


async def test_a_failed_lookup_is_one_line_and_is_asked_again(
    slack_api: SlackApi, caplog: pytest.LogCaptureFixture
) -> None:
    watch_logs(caplog)
    client = build_client(make_settings(slack_api.base_url + "api/"))
    gate = Gate()
    slack_api.break_method("auth.test", "invalid_auth")
    assert await gate.installation(client) is None
    assert refusals(caplog) == ["cannot learn the installing team (auth.test: invalid_auth)"]
    slack_api.mend("auth.test")
    assert await gate.installation(client) == Installation(TEAM)
    assert await gate.installation(client) == Installation(TEAM)
    assert len(slack_api.of("auth.test#error")) == len(slack_api.of("auth.test")) == 1
    assert_no_traceback(caplog)


async def test_nothing_is_stored_for_an_outsider(bot: Bot, recorder: Recorder) -> None:
    def drafts() -> int:
        return len(bot.services.store.run_sync(lambda s: s.exec(select(Draft)).all()))

    answer = await bot.slack.post_bytes(command(recorder, "add a.example", team=OTHER_TEAM), FORM)
    assert OUTSIDER in answer.text
    await bot.settle()
    assert drafts() == 0
    await bot.slack.post_bytes(command(recorder, "add a.example"), FORM)
    await bot.settle()
    assert drafts() == 1
