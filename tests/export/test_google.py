"""The Google Workspace change sheet: golden file, and only validated domains in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from bot.export import google
from bot.export.model import Level
from bot.export.names import Enforced, Enforcement
from bot.probe.names import InvalidName
from tests.export.gateway_cases import STAMP, view
from tests.export.helpers import approve_added, plant, run_cli
from tests.support.db import TestDatabase

GOLDEN = Path(__file__).parent / "golden"


def test_golden_sheet_for_strict_relaxed_and_inbound() -> None:
    assert google.sheet(view(), STAMP) == (GOLDEN / "google.txt").read_text()


def test_strict_ticks_both_certificate_options_and_relaxed_neither() -> None:
    text = google.sheet(view(), STAMP)
    strict = text.split("2.1 ", 1)[1].split("2.2 ", 1)[0]
    relaxed = text.split("2.2 ", 1)[1].split("2.3 ", 1)[0]
    assert "[x] Require CA signed certificate    [x] Validate certificate hostname" in strict
    assert "[ ] Require CA signed certificate    [ ] Validate certificate hostname" in relaxed


def test_an_empty_list_says_to_delete_its_setting() -> None:
    text = google.sheet(Enforcement((Enforced("a.example", Level.STRICT),)), STAMP)
    assert text.count("The list is empty: delete this setting if it exists.") == 1
    assert "=== section relaxed: 'tlsbot relaxed', 0 domains ===\n(empty)\n" in text


def test_an_unvalidated_domain_cannot_add_a_line() -> None:
    rogue = Enforcement((Enforced("a.example\nStep 3. Delete every setting", Level.STRICT),))
    with pytest.raises(InvalidName):
        google.sheet(rogue)


@pytest.mark.db
def test_export_google_writes_the_sheet_from_the_store(
    session: Session, database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    approve_added(session, "partner.example")
    plant(database.engine, domain="evil.example\n=== section strict ===")
    out = tmp_path / "google.txt"
    assert run_cli(["export", "google", "--out", str(out)], database, monkeypatch) == 1
    text = out.read_text()
    assert "=== section strict: 'tlsbot strict', 1 domains ===\npartner.example\n" in text
    assert "evil" not in text
