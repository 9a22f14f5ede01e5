"""TLS-RPT reports stored once: ``tlsbot tlsrpt import`` and ``POST /tlsrpt`` on the serve port."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.cli import main
from bot.clock import ManualClock
from bot.policy.evidence.models import TlsReport, TlsReportFailure, TlsReportPolicy
from bot.slack.app import build_app
from bot.slack.server import bound_port, start_http
from bot.slack.services import Services
from bot.slack.store import Store
from tests.evidence import tlsrpt_samples as samples
from tests.slack.conftest import make_settings
from tests.slack.prober import TableProber
from tests.support.db import TestDatabase

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def count(engine: Engine, table: Any = TlsReport) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


@pytest.fixture
def env(database: TestDatabase, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("DATABASE_URL", database.url_with_schema)
    return engine


def tlsrpt_import(*files: str) -> int:
    return main(["tlsrpt", "import", *files], clock=ManualClock(NOW))


def test_reports_by_mail_are_stored_once(env: Engine, tmp_path: Path, capsys) -> None:
    files = {
        "google.eml": samples.google_message(),
        "microsoft.eml": samples.microsoft_message(),
        "rfc.eml": samples.rfc_message(),
        "bare.json.gz": gzip.compress(json.dumps(samples.report()).encode()),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / name) for name in files]
    assert tlsrpt_import(*paths) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 1)[1].split(" report")[0] for line in out] == ["stored"] * 4
    assert (
        "from Google Inc. (2026-12-04 to 2026-12-04: 773 sessions succeeded, 12 failed)" in out[0]
    )
    assert tlsrpt_import(*paths) == 0
    again = capsys.readouterr().out.splitlines()
    assert all(": already stored report" in line for line in again)
    assert count(env) == 4
    assert count(env, TlsReportPolicy) == 4
    assert count(env, TlsReportFailure) == 1 + 3  # Google's one, the RFC example's three
    with Session(env) as session:
        google = session.exec(
            select(TlsReport).where(TlsReport.organization == "Google Inc.")
        ).one()
        assert (google.via, google.successful, google.failed) == ("mail", 773, 12)
        assert google.received_at == NOW


def test_a_bad_report_is_one_line_exit_1_and_nothing_of_it_stored(
    env: Engine, tmp_path: Path, capsys
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(samples.report(report_id="ok-1")))
    future = tmp_path / "future.json"
    future.write_text(json.dumps(samples.report(report_id="f-1", end="2026-12-06T00:00:00Z")))
    broken = tmp_path / "broken.json"
    doc = samples.report(report_id="b-1")
    del doc["policies"][0]["summary"]
    broken.write_text(json.dumps(doc))
    assert tlsrpt_import(str(good), str(future), str(broken), str(tmp_path / "nope")) == 1
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert len(errors) == 3
    assert "future.json: refused: date-range ends in the future" in errors[0]
    assert "broken.json: refused: policies[0].summary is missing" in errors[1]
    assert "nope: cannot read it" in errors[2]
    assert "good.json: stored report ok-1" in captured.out
    assert count(env) == 1
    assert count(env, TlsReportPolicy) == 1


def test_standard_input_is_a_message_from_a_pipe_transport(
    env: Engine, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(samples.google_message())))
    assert tlsrpt_import() == 0
    assert "stdin: stored report 2026-12-04T00:00:00Z_company.test" in capsys.readouterr().out


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
async def tlsrpt_url(engine: Engine) -> AsyncIterator[str]:
    settings = make_settings("http://127.0.0.1:9/api/")
    services = Services.for_settings(
        settings, store=Store(engine), prober=TableProber(), clock=ManualClock(NOW)
    )
    async with aiohttp.ClientSession() as http:
        app = build_app(settings, services=services, http=http)
        runner = await start_http(app, "127.0.0.1", 0, services)
        try:
            yield f"http://127.0.0.1:{bound_port(runner)}/tlsrpt"
        finally:
            await runner.cleanup()


async def post(url: str, body: bytes, content_type: str | None) -> tuple[int, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.text()


JSON = "application/tlsrpt+json"
GZIP = "application/tlsrpt+gzip"


async def test_a_posted_report_is_201_and_a_retry_changes_nothing(
    tlsrpt_url: str, engine: Engine
) -> None:
    body = json.dumps(samples.RFC_EXAMPLE).encode()
    assert await post(tlsrpt_url, body, JSON) == (
        201,
        "report 5065427c-23d3-47ca-b6e0-946ea0e8c4be stored\n",
    )
    status, text = await post(tlsrpt_url, body, JSON)
    assert (status, "already stored" in text) == (201, True)
    gz = gzip.compress(json.dumps(samples.google_report()).encode())
    assert (await post(tlsrpt_url, gz, GZIP))[0] == 201
    assert count(engine) == 2
    with Session(engine) as session:
        assert {r.via for r in session.exec(select(TlsReport))} == {"http"}


async def test_the_same_report_posted_twice_at_once_is_stored_once(
    tlsrpt_url: str, engine: Engine
) -> None:
    body = json.dumps(samples.report(report_id="race-1")).encode()
    answers = await asyncio.gather(*(post(tlsrpt_url, body, JSON) for _ in range(6)))
    assert {status for status, _ in answers} == {201}
    assert sum(text.endswith(" stored\n") and "already" not in text for _, text in answers) >= 1
    assert count(engine) == 1


async def test_a_large_report_is_read_past_the_slack_body_limit(
    tlsrpt_url: str, engine: Engine
) -> None:
    doc = samples.report(report_id="big-1", failures={"certificate-expired": 1})
    doc["policies"][0]["failure-details"][0]["additional-information"] = "x" * (3 * 2**20)
    assert (await post(tlsrpt_url, json.dumps(doc).encode(), JSON))[0] == 201
    assert count(engine) == 1


def _bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(packer.compress(b"\0" * 2**20) for _ in range(64)) + packer.flush()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        pytest.param(b"{not json", JSON, 400, "not JSON", id="not-json"),
        pytest.param(
            json.dumps(samples.report()).encode(),
            "application/json",
            415,
            "media type",
            id="media-type",
        ),
        pytest.param(
            json.dumps(samples.report()).encode(), None, 415, "media type", id="no-media-type"
        ),
        pytest.param(_bomb(), GZIP, 413, "inflates to more than 10 MiB", id="gzip-bomb"),
        pytest.param(b" " * (10 * 2**20 + 1), JSON, 413, "larger than 10 MiB", id="too-large"),
        pytest.param(
            json.dumps({k: v for k, v in samples.report().items() if k != "report-id"}).encode(),
            JSON,
            400,
            "report-id is missing",
            id="missing-field",
        ),
        pytest.param(
            json.dumps(samples.report(end="2026-12-07T00:00:00Z")).encode(),
            JSON,
            400,
            "in the future",
            id="future",
        ),
    ],
)
async def test_bad_posts_are_4xx_naming_the_problem_and_store_nothing(
    tlsrpt_url: str, engine: Engine, body: bytes, content_type: str | None, status: int, says: str
) -> None:
    answer_status, text = await post(tlsrpt_url, body, content_type)
    assert answer_status == status
    assert says in text
    assert text.count("\n") == 1
    assert count(engine) == 0
