"""The edge: what reaches Bolt is fresh, signed and well-formed; the rest is a 4xx and one
log line, and nothing is sent anywhere on its behalf."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import Engine

from bot.clock import ManualClock, system_clock
from bot.commands import serve
from bot.config import Secret
from bot.slack import errors
from bot.slack.app import build_client
from bot.slack.edge import verified
from bot.slack.ids import Action, View
from bot.slack.store import Store
from tests.slack.conftest import APPROVER, REQUESTER, Bot, make_settings, running_bot
from tests.slack.hostile import (
    FORM,
    JSON,
    assert_no_traceback,
    assert_reached_nobody,
    click,
    command,
    form,
    watch_logs,
)
from tests.slack.prober import TableProber
from tests.support.recorder import Recorder
from tests.support.slack_api import SlackApi

pytestmark = [pytest.mark.timeout(30), pytest.mark.db]


def now() -> int:
    return int(time.time())


# ---- 1. timestamps and signatures: 401 before Bolt


BAD_TIMESTAMPS = {
    "letters": lambda: "abc",
    "empty": lambda: "",
    "exponent": lambda: "1e9",
    "arabic-indic-digits": lambda: "١٧٠٠٠٠٠٠٠٠",
    "underscores": lambda: f"{now():_}",
    "plus-sign": lambda: f"+{now()}",
    "negative": lambda: "-1",
    "fraction": lambda: f"{now()}.5",
    "four-hundred-digits": lambda: "9" * 400,
    "six-minutes-old": lambda: str(now() - 6 * 60),
    "six-minutes-ahead": lambda: str(now() + 6 * 60),
}


@pytest.mark.parametrize("make", BAD_TIMESTAMPS.values(), ids=BAD_TIMESTAMPS.keys())
async def test_a_bad_timestamp_is_refused_401_even_when_signed_over_it(
    bot: Bot, recorder: Recorder, caplog: pytest.LogCaptureFixture, make: object
) -> None:
    watch_logs(caplog)
    timestamp = make()  # type: ignore[operator]
    for body, kind in ((command(recorder), FORM), (form(click(recorder, "²")), FORM)):
        answer = await bot.slack.post_bytes(body, kind, timestamp=timestamp)
        assert answer.status == 401
        assert answer.text == "invalid request"
    await bot.settle()
    assert_reached_nobody(bot, recorder)
    assert_no_traceback(caplog)
    refusals = [r for r in caplog.records if r.name == "bot.slack.edge"]
    assert len(refusals) == 2
    assert all("X-Slack-Request-Timestamp" in r.getMessage() for r in refusals)


async def test_a_missing_timestamp_is_refused_401(bot: Bot, recorder: Recorder) -> None:
    answer = await bot.slack.post_bytes(
        command(recorder), FORM, omit=("X-Slack-Request-Timestamp",)
    )
    assert answer.status == 401
    assert_reached_nobody(bot, recorder)


def good(bot: Bot, body: bytes, ts: str) -> str:
    return bot.slack.sign(ts, body)


BAD_SIGNATURES = {
    "zeros": lambda bot, body, ts: "v0=" + "0" * 64,
    "empty": lambda bot, body, ts: "",
    "other-version": lambda bot, body, ts: "v1=" + good(bot, body, ts)[3:],
    "upper-case-hex": lambda bot, body, ts: good(bot, body, ts).upper(),
    "one-digit-short": lambda bot, body, ts: good(bot, body, ts)[:-1],
    "non-ascii": lambda bot, body, ts: good(bot, body, ts)[:-1] + "é",
    "other-body": lambda bot, body, ts: good(bot, body + b"&x=1", ts),
    "other-timestamp": lambda bot, body, ts: good(bot, body, str(int(ts) - 1)),
}


@pytest.mark.parametrize("make", BAD_SIGNATURES.values(), ids=BAD_SIGNATURES.keys())
async def test_a_bad_signature_is_refused_401(
    bot: Bot, recorder: Recorder, caplog: pytest.LogCaptureFixture, make: object
) -> None:
    watch_logs(caplog)
    body, ts = form(click(recorder, "²")), str(now())
    answer = await bot.slack.post_bytes(body, FORM, timestamp=ts, signature=make(bot, body, ts))  # type: ignore[operator]
    assert answer.status == 401
    await bot.settle()
    assert_reached_nobody(bot, recorder)
    assert_no_traceback(caplog)


async def test_a_repeated_signature_or_timestamp_header_is_refused(
    bot: Bot, recorder: Recorder
) -> None:
    body, ts = command(recorder), str(now())
    twice = await bot.slack.post_bytes(
        body, FORM, timestamp=ts, headers=[("X-Slack-Signature", bot.slack.sign(ts, body))]
    )
    assert twice.status == 401
    stale = str(now() - 3600)
    two_times = await bot.slack.post_bytes(
        body, FORM, timestamp=ts, headers=[("X-Slack-Request-Timestamp", stale)]
    )
    assert two_times.status == 401
    assert_reached_nobody(bot, recorder)


async def test_freshness_is_judged_by_the_bots_clock_not_the_wall_clock(
    slack_api: SlackApi, engine: Engine
) -> None:
    clock = ManualClock(system_clock() + timedelta(hours=1))
    async with running_bot(slack_api, engine, TableProber(), clock=clock) as bot:
        at = int(clock().timestamp())
        body = bot.slack.command_body("help").encode()
        wall = await bot.slack.post_bytes(body, FORM, timestamp=str(now()))
        assert wall.status == 401  # an hour off the bot's clock
        for offset, status in ((0, 200), (-299, 200), (299, 200), (-301, 401), (301, 401)):
            body = bot.slack.command_body("help").encode()  # a new trigger: not a replay
            answer = await bot.slack.post_bytes(body, FORM, timestamp=str(at + offset))
            assert answer.status == status, offset
            if status == 200:
                assert "/tls setup" in answer.text


async def test_the_error_path_says_nothing_for_a_request_that_was_not_verified(
    slack_api: SlackApi, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    watch_logs(caplog)
    client = build_client(make_settings(slack_api.base_url + "api/"))
    hostile = dict(parse_qsl(command(recorder).decode()))
    without = {k: v for k, v in hostile.items() if k != "response_url"}
    for body in (hostile, without):  # response_url, else chat.postEphemeral to the channel
        await errors.report(errors.UserError("no"), body, client)
        await errors.report(RuntimeError("boom"), body, client)
    assert slack_api.calls == []
    assert recorder.requests == []
    assert_no_traceback(caplog)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.slack"]
    assert (
        lines
        == [
            "not answering an unverified request: UserError",
            "not answering an unverified request: RuntimeError",
        ]
        * 2
    )
    # the same call for a verified request does answer: the check is the mark, nothing else
    with verified("test"):
        await errors.report(errors.UserError("no"), without, client)
    assert [c.method for c in slack_api.calls] == ["chat.postEphemeral"]


# ---- 2. malformed bodies: 400, signed or not

MALFORMED = {
    "payload-not-json": (FORM, b"payload=%7Bnot+json"),
    "payload-json-array": (FORM, b"payload=%5B1%2C2%5D"),
    "payload-json-string": (FORM, b"payload=%22text%22"),
    "payload-json-number": (FORM, b"payload=12"),
    "payload-deeply-nested": (FORM, b"payload=" + b"%5B" * 100_000),
    "payload-five-thousand-digit-number": (FORM, b"payload=%7B%22a%22%3A" + b"9" * 5000 + b"%7D"),
    "payload-lone-surrogate": (FORM, b"payload=%7B%22a%22%3A%22%5Cud800%22%7D"),
    "escape-not-hex": (FORM, b"command=%2Ftls&text=%zz"),
    "escape-cut-short": (FORM, b"command=%2Ftls&text=%4"),
    "escape-at-the-end": (FORM, b"command=%2Ftls&text=help%"),
    "escape-of-non-utf8": (FORM, b"command=%2Ftls&text=%ff%fe"),
    "raw-non-utf8": (FORM, b"command=%2Ftls&text=\xff\xfe"),
    "raw-utf8-in-a-form": (FORM, "command=%2Ftls&text=caf\u00e9".encode()),
    "not-name-value-pairs": (FORM, b"command=%2Ftls&&text"),
    "form-that-is-json": (FORM, b'{"type": "event_callback"}'),
    "json-garbage": (JSON, b"{nope"),
    "json-array": (JSON, b"[1, 2]"),
    "json-string": (JSON, b'"event_callback"'),
    "json-non-utf8": (JSON, b'{"type": "\xff"}'),
    "json-lone-surrogate": (JSON, b'{"type": "\\udc00"}'),
    "empty": (FORM, b""),
    "text-plain": ("text/plain", b"command=%2Ftls&text=help"),
    "no-content-type": (None, b"command=%2Ftls&text=help"),
}


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize(("kind", "body"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_body_is_refused_400_signed_or_not(
    bot: Bot,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    kind: str | None,
    body: bytes,
    signed: bool,
) -> None:
    watch_logs(caplog)
    signature = None if signed else "v0=" + "0" * 64
    answer = await bot.slack.post_bytes(body, kind, signature=signature)
    assert answer.status == 400
    assert answer.text == "malformed request"
    await bot.settle()
    assert_reached_nobody(bot, recorder)
    assert_no_traceback(caplog)
    assert len([r for r in caplog.records if r.name == "bot.slack.edge"]) == 1


def _view(**fields: object) -> dict[str, object]:
    return {"id": "V1", "type": "modal", "callback_id": View.DOMAINS_ADD, **fields}


SHAPES = {
    "view-without-type": lambda r: click(r, view={"id": "V1", "callback_id": View.DOMAINS}),
    "view-a-string": lambda r: click(r, view="V1"),
    "submission-view-without-type": lambda r: {
        **click(r),
        "type": "view_submission",
        "view": {"id": "V1", "callback_id": View.DOMAINS_ADD},
    },
    "submission-without-view": lambda r: {**click(r), "type": "view_submission", "view": None},
    "workflow-step-without-step": lambda r: {
        **click(r),
        "type": "view_submission",
        "view": _view(type="workflow_step"),
    },
    "state-values-not-objects": lambda r: {
        **click(r),
        "type": "view_submission",
        "view": _view(state={"values": {"b": "x"}}),
    },
    "actions-a-string": lambda r: click(r, actions="tls_approve"),
    "actions-empty": lambda r: click(r, actions=[]),
    "action-without-action-id": lambda r: click(r, actions=[{"value": "1"}]),
    "action-value-a-number": lambda r: click(
        r, actions=[{"action_id": Action.APPROVE, "value": 1}]
    ),
    "user-a-number": lambda r: click(r, user=5),
    "user-id-a-list": lambda r: click(r, user={"id": ["U1"]}),
    "channel-a-list": lambda r: click(r, channel=["C1"]),
    "message-a-string": lambda r: click(r, message="hi"),
    "response-urls-not-objects": lambda r: click(r, response_urls=["http://x"]),
    "type-a-number": lambda r: click(r, type=7),
}


@pytest.mark.parametrize("make", SHAPES.values(), ids=SHAPES.keys())
async def test_a_signed_payload_of_a_shape_slack_never_sends_is_refused_400(
    bot: Bot, recorder: Recorder, caplog: pytest.LogCaptureFixture, make: object
) -> None:
    watch_logs(caplog)
    answer = await bot.slack.post_bytes(form(make(recorder)), FORM)  # type: ignore[operator]
    assert answer.status == 400
    await bot.settle()
    assert_reached_nobody(bot, recorder)
    assert_no_traceback(caplog)


async def test_an_event_of_a_shape_slack_never_sends_is_refused_400(
    bot: Bot, recorder: Recorder
) -> None:
    for event in ({"user": "U1"}, {"type": 3}, "app_home_opened"):
        body = json.dumps({"type": "event_callback", "team_id": "T0000001", "event": event})
        answer = await bot.slack.post_bytes(body.encode(), JSON)
        assert answer.status == 400, event
    assert_reached_nobody(bot, recorder)


async def test_a_command_that_mentions_payload_is_answered(bot: Bot) -> None:
    """Bolt reads a form body with the word "payload" in it as {} (an unhandled request)."""
    answer = await bot.slack.command("check payload.example")
    assert answer.status == 200
    assert "Checking payload.example" in answer.text


# ---- 2. values Slack would never send: one private line, never an exception


BUTTON_VALUES = {
    "superscript-two": "²",
    "arabic-indic-three": "٣",
    "five-thousand-digits": "9" * 5000,
    "negative": "-1",
    "empty": "",
    "exponent": "1e3",
    "padded": " 1",
}


@pytest.mark.parametrize("value", BUTTON_VALUES.values(), ids=BUTTON_VALUES.keys())
async def test_an_approve_value_slack_would_never_send_gets_one_private_line(
    bot: Bot, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    watch_logs(caplog)
    answer = await bot.slack.click_in_message({"blocks": []}, Action.APPROVE, value, user=APPROVER)
    assert answer.status == 200
    assert answer.elapsed < 2  # Bolt loses an ack a listener raised after: 404 after 3 s
    await bot.settle()
    replies = bot.api.of("response_url")
    assert len(replies) == 1
    assert replies[0].body["text"] == ":no_entry: This button is out of date; open the view again."
    assert replies[0].body["response_type"] == "ephemeral"
    assert bot.api.of("chat.update") == bot.api.of("chat.postMessage") == []
    assert_no_traceback(caplog)


@pytest.mark.parametrize("value", ["²", "9" * 5000, "x"], ids=["superscript", "digits", "letter"])
async def test_a_page_button_value_slack_would_never_send_gets_one_private_line(
    bot: Bot, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    watch_logs(caplog)
    view = {"id": "V1", "type": "modal", "callback_id": View.DOMAINS, "private_metadata": '{"d":1}'}
    answer = await bot.slack.click_in_view(view, Action.DOMAINS_PAGE, value, user=REQUESTER)
    assert answer.status == 200
    await bot.settle()
    told = bot.api.of("chat.postMessage")
    assert [c.body["text"] for c in told] == [
        ":no_entry: This button is out of date; open the view again."
    ]
    assert told[0].body["channel"] == REQUESTER
    assert bot.api.of("views.update") == []
    assert_no_traceback(caplog)


@pytest.mark.parametrize(
    "metadata",
    ["{}", '{"d": true}', '{"d": -3}', '{"d": "7"}', "not json", '{"d": 1e400}'],
    ids=["none", "true", "negative", "a-string", "not-json", "infinite"],
)
async def test_a_submission_without_its_draft_is_answered_in_the_modal(
    bot: Bot, caplog: pytest.LogCaptureFixture, metadata: str
) -> None:
    watch_logs(caplog)
    view = {**_view(), "private_metadata": metadata}
    answer = await bot.slack.submit(view, {"tls_domains": {"domains": "a.example"}})
    assert answer.status == 200
    assert answer.json["response_action"] == "update"
    assert "This view is out of date; start again with /tls setup." in json.dumps(answer.json)
    await bot.settle()
    assert [c.method for c in bot.api.calls if c.method != "auth.test"] == []
    assert_no_traceback(caplog)


# ---- Socket Mode keeps working, and its requests count as verified


async def test_socket_mode_answers_a_bad_button_value_privately(
    slack_api: SlackApi, engine: Engine
) -> None:
    settings = replace(
        make_settings(slack_api.base_url + "api/"),
        slack_app_token=Secret("xapp-test"),
        slack_signing_secret=None,
    )
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve.serve(settings, Store(engine), stop=stop, started=started, clock=system_clock)
    )
    try:
        await asyncio.wait_for(started.wait(), 10)
        await slack_api.wait_for("apps.connections.open")
        while not slack_api.sockets:
            await asyncio.sleep(0.01)
        payload = click(slack_api.response_url("socket"), "²")
        envelope = await slack_api.send_envelope("interactive", payload)
        await slack_api.wait_for("socket_ack", lambda b: b.get("envelope_id") == envelope)
        reply = await slack_api.wait_for("response_url")
        assert "out of date" in reply.body["text"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


# ---- a hundred malformed requests


def _hundred(bot: Bot, recorder: Recorder) -> list[dict[str, object]]:
    """Ten kinds of bad request, ten of each, every one aimed at the recorder."""
    commands = (command(recorder, f"check a{i}.example") for i in itertools.count())
    clicks = (form(click(recorder, str(i))) for i in itertools.count())
    zeros = "v0=" + "0" * 64
    kinds = [
        lambda i: {"raw": next(commands), "kind": FORM, "timestamp": "abc" + str(i)},
        lambda i: {"raw": next(clicks), "kind": FORM, "timestamp": ""},
        lambda i: {"raw": next(commands), "kind": FORM, "timestamp": f"{i}e9"},
        lambda i: {"raw": next(clicks), "kind": FORM, "timestamp": str(now() - 301 - i * 60)},
        lambda i: {"raw": next(commands), "kind": FORM, "signature": zeros[: 60 + i % 8]},
        lambda i: {"raw": b"command=%2Ftls&text=%" + b"zz4"[i % 3 :], "kind": FORM},
        lambda i: {"raw": b"command=%2Ftls&text=" + bytes([0x80 + i]) * 3, "kind": FORM},
        lambda i: {"raw": b"payload=%7B" + str(i).encode() + b"not+json", "kind": FORM},
        lambda i: {"raw": b"payload=" + json.dumps([i]).encode(), "kind": FORM},
        lambda i: {"raw": b"{" * (i + 1) + b"garbage", "kind": JSON},
    ]
    return [kinds[k](i) for i in range(10) for k in range(len(kinds))]


async def test_a_hundred_malformed_requests_leave_no_traceback_and_reach_nobody(
    bot: Bot,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    watch_logs(caplog)
    requests = _hundred(bot, recorder)
    assert len(requests) == 100
    statuses = []
    for request in requests:
        answer = await bot.slack.post_bytes(
            request["raw"],  # type: ignore[arg-type]
            request["kind"],  # type: ignore[arg-type]
            timestamp=request.get("timestamp"),  # type: ignore[arg-type]
            signature=request.get("signature"),  # type: ignore[arg-type]
        )
        statuses.append(answer.status)
    await bot.settle()
    await asyncio.sleep(0.2)  # anything sent late would be recorded by now
    assert statuses == [401, 401, 401, 401, 401, 400, 400, 400, 400, 400] * 10
    assert_no_traceback(caplog, capfd.readouterr().err)
    assert_reached_nobody(bot, recorder)
    refusals = [r for r in caplog.records if r.name == "bot.slack.edge"]
    assert len(refusals) == 100  # one line each
