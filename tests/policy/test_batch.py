"""Batch entry and drafts: parsing, classification, the 50-line limit, editing, submitting."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.clock import system_clock
from bot.policy import queries
from bot.policy.approvals import approve
from bot.policy.batch import MAX_BATCH, LineStatus, check_batch, split_entries
from bot.policy.drafts import (
    add_text,
    attach_validation,
    discard,
    keep_clean_lines,
    remove_line,
    start_draft,
    submit,
)
from bot.policy.errors import BatchError, NotAllowed, NotFound, StaleDraft
from bot.policy.models import ChangeRequest, Draft
from bot.policy.requests import propose_add_domains
from bot.probe.model import Verdict
from tests.policy.factories import ANN, BO, RULES, is_approver, validated

pytestmark = pytest.mark.db


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        pytest.param("a.example\nb.example", ["a.example", "b.example"], id="lines"),
        pytest.param(
            "a.example, b.example,c.example", ["a.example", "b.example", "c.example"], id="commas"
        ),
        pytest.param(
            "\n\n a.example \r\n\n,\nb.example\n\n",
            ["a.example", "b.example"],
            id="blank-lines-and-crlf",
        ),
        pytest.param("  \n , \n", [], id="nothing"),
    ],
)
def test_split_entries(text: str, entries: list[str]) -> None:
    assert split_entries(text) == entries


def _statuses(check) -> list[tuple[str, str]]:
    return [(line.text, line.status.value) for line in check.lines]


def test_each_line_is_classified(session: Session) -> None:
    approve(
        session=session,
        request_id=propose_add_domains(
            session=session,
            requester=ANN,
            entries=[("has.example", validated(session, "has.example").id)],
            rules=RULES,
            now=system_clock(),
        ).id,
        approver=BO,
        is_approver=is_approver,
        now=system_clock(),
    )
    pending = propose_add_domains(
        session=session,
        requester=BO,
        entries=[("wait.example", validated(session, "wait.example").id)],
        rules=RULES,
        now=system_clock(),
    )
    text = "\n".join(
        [
            "new.example",
            "NEW.example.",
            "has.example",
            "wait.example",
            "not a domain.example",
            "x" * 300 + ".example",
            "bücher.example",
            "192.0.2.1",
        ]
    )
    check = check_batch(session=session, text=text)
    assert check.error is None
    by_status = [(line.number, line.status, line.domain) for line in check.lines]
    assert by_status == [
        (1, LineStatus.OK, "new.example"),
        (2, LineStatus.DUPLICATE, "new.example"),
        (3, LineStatus.EXISTS, "has.example"),
        (4, LineStatus.PENDING, "wait.example"),
        (5, LineStatus.INVALID, None),
        (6, LineStatus.INVALID, None),
        (7, LineStatus.OK, "xn--bcher-kva.example"),
        (8, LineStatus.INVALID, None),
    ]
    reasons = [line.reason for line in check.lines]
    assert reasons[1] == "new.example is already in this batch (line 1)"
    assert reasons[2] == "has.example already has a TLS policy"
    assert reasons[3] == f"wait.example is already in pending change request #{pending.id}"
    assert "white space" in reasons[4]
    assert "308 characters long" in reasons[5]
    assert len(check.lines[5].text) <= 80  # an over-long line is shown shortened
    assert "IP address" in reasons[7]
    assert check.clean_domains == ("new.example", "xn--bcher-kva.example")


@pytest.mark.parametrize(
    ("count", "ok"),
    [
        pytest.param(MAX_BATCH, True, id="50-fit"),
        pytest.param(MAX_BATCH + 1, False, id="51-refused"),
    ],
)
def test_at_most_fifty_domains_a_batch(session: Session, count: int, ok: bool) -> None:
    text = "\n".join(f"d{i}.example" for i in range(count))
    check = check_batch(session=session, text=text)
    if ok:
        assert (check.error, len(check.lines)) == (None, count)
    else:
        assert check.lines == ()
        assert check.error is not None
        assert "51 domains" in check.error
        assert "at most 50" in check.error


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param("", "Paste at least one domain", id="empty"),
        pytest.param("a" * 100_001, "more than 100,000 characters", id="huge-paste"),
    ],
)
def test_unusable_batches_are_error_values(session: Session, text: str, error: str) -> None:
    check = check_batch(session=session, text=text)
    assert check.error is not None
    assert error in check.error


def _draft_with(session: Session, text: str) -> Draft:
    draft = start_draft(session=session, owner=ANN, now=system_clock())
    draft, check = add_text(
        session=session,
        draft_id=draft.id,
        version=draft.version,
        text=text,
        actor=ANN,
        now=system_clock(),
    )
    assert check.error is None
    return draft


def test_draft_lives_in_the_database_and_is_resumed(session: Session) -> None:
    draft = _draft_with(session, "a.example\nbad domain")
    again = start_draft(session=session, owner=ANN, now=system_clock())
    assert again.id == draft.id
    session.expire_all()
    stored = session.get(Draft, draft.id)
    assert [(line["text"], line["status"]) for line in stored.lines] == [
        ("a.example", "ok"),
        ("bad domain", "invalid"),
    ]
    assert start_draft(session=session, owner=BO, now=system_clock()).id != draft.id


def test_remove_a_line_then_keep_the_clean_ones(session: Session) -> None:
    draft = _draft_with(session, "a.example\nbad domain\nb.example\na.example")
    bad = draft.lines[1]["id"]
    draft = remove_line(
        session=session,
        draft_id=draft.id,
        version=draft.version,
        line_id=bad,
        actor=ANN,
        now=system_clock(),
    )
    assert [line["text"] for line in draft.lines] == ["a.example", "b.example", "a.example"]
    draft = keep_clean_lines(
        session=session, draft_id=draft.id, version=draft.version, actor=ANN, now=system_clock()
    )
    assert [line["domain"] for line in draft.lines] == ["a.example", "b.example"]
    with pytest.raises(NotFound):
        remove_line(
            session=session,
            draft_id=draft.id,
            version=draft.version,
            line_id=bad,
            actor=ANN,
            now=system_clock(),
        )


def test_batch_limit_counts_lines_already_in_the_draft(session: Session) -> None:
    draft = _draft_with(session, "\n".join(f"d{i}.example" for i in range(40)))
    same, check = add_text(
        session=session,
        draft_id=draft.id,
        version=draft.version,
        text="\n".join(f"e{i}.example" for i in range(11)),
        actor=ANN,
        now=system_clock(),
    )
    assert check.error is not None
    assert "40 already in the list" in check.error
    assert (same.version, len(same.lines)) == (draft.version, 40)  # unchanged
    draft, check = add_text(
        session=session,
        draft_id=draft.id,
        version=draft.version,
        text="d3.example",
        actor=ANN,
        now=system_clock(),
    )
    assert check.lines[0].status is LineStatus.DUPLICATE


def test_stale_version_is_refused(session: Session) -> None:
    draft = _draft_with(session, "a.example")
    old_version = draft.version - 1
    with pytest.raises(StaleDraft, match="changed elsewhere"):
        add_text(
            session=session,
            draft_id=draft.id,
            version=old_version,
            text="b.example",
            actor=ANN,
            now=system_clock(),
        )
    session.expire_all()
    assert len(session.get(Draft, draft.id).lines) == 1


def test_only_the_owner_edits_a_draft(session: Session) -> None:
    draft = _draft_with(session, "a.example")
    with pytest.raises(NotAllowed):
        add_text(
            session=session,
            draft_id=draft.id,
            version=draft.version,
            text="b.example",
            actor=BO,
            now=system_clock(),
        )
    with pytest.raises(NotFound):
        add_text(
            session=session,
            draft_id=9999,
            version=1,
            text="b.example",
            actor=ANN,
            now=system_clock(),
        )


def test_submit_needs_every_line_clean_and_validated(session: Session) -> None:
    draft = _draft_with(session, "a.example\nb.example\nbad domain")
    with pytest.raises(BatchError, match="remove that line first"):
        submit(
            session=session,
            draft_id=draft.id,
            version=draft.version,
            actor=ANN,
            rules=RULES,
            now=system_clock(),
        )
    draft = keep_clean_lines(
        session=session, draft_id=draft.id, version=draft.version, actor=ANN, now=system_clock()
    )
    with pytest.raises(BatchError, match=r"a\.example has not been validated yet"):
        submit(
            session=session,
            draft_id=draft.id,
            version=draft.version,
            actor=ANN,
            rules=RULES,
            now=system_clock(),
        )
    a, b = draft.lines
    draft = attach_validation(
        session=session,
        draft_id=draft.id,
        version=draft.version,
        line_id=a["id"],
        validation_id=validated(session, "a.example").id,
        actor=ANN,
        now=system_clock(),
    )
    draft = attach_validation(
        session=session,
        draft_id=draft.id,
        version=draft.version,
        line_id=b["id"],
        validation_id=validated(session, "b.example", Verdict.UNSUPPORTED).id,
        actor=ANN,
        now=system_clock(),
    )
    with pytest.raises(BatchError, match=r"b\.example validated as TLS Not Supported"):
        submit(
            session=session,
            draft_id=draft.id,
            version=draft.version,
            actor=ANN,
            rules=RULES,
            now=system_clock(),
        )
    with pytest.raises(BatchError, match=r"is of a\.example, not b\.example"):
        attach_validation(
            session=session,
            draft_id=draft.id,
            version=draft.version,
            line_id=b["id"],
            validation_id=draft.lines[0]["validation_id"],
            actor=ANN,
            now=system_clock(),
        )
    draft = attach_validation(
        session=session,
        draft_id=draft.id,
        version=draft.version,
        line_id=b["id"],
        validation_id=validated(session, "b.example", Verdict.RELAXED).id,
        actor=ANN,
        now=system_clock(),
    )
    assert session.exec(select(ChangeRequest)).all() == []  # nothing half-written so far
    request = submit(
        session=session,
        draft_id=draft.id,
        version=draft.version,
        actor=ANN,
        rules=RULES,
        now=system_clock(),
    )
    assert [(i["domain"], i["level"]) for i in request.items] == [
        ("a.example", "strict"),
        ("b.example", "relaxed"),
    ]
    session.expire_all()
    stored = session.get(Draft, draft.id)
    assert (stored.state, stored.request_id) == ("submitted", request.id)
    with pytest.raises(StaleDraft):
        submit(
            session=session,
            draft_id=draft.id,
            version=stored.version,
            actor=ANN,
            rules=RULES,
            now=system_clock(),
        )
    assert len(session.exec(select(ChangeRequest)).all()) == 1
    assert (
        start_draft(session=session, owner=ANN, now=system_clock()).id != draft.id
    )  # a fresh one next time


def test_discarded_draft_is_not_resumed(session: Session) -> None:
    draft = _draft_with(session, "a.example")
    discard(
        session=session, draft_id=draft.id, version=draft.version, actor=ANN, now=system_clock()
    )
    assert start_draft(session=session, owner=ANN, now=system_clock()).id != draft.id


def test_summary_counts_policies_and_pending(session: Session) -> None:
    request = propose_add_domains(
        session=session,
        requester=ANN,
        entries=[(d, validated(session, d).id) for d in ("a.example", "b.example")],
        rules=RULES,
        now=system_clock(),
    )
    before = queries.summary(session=session)
    assert (before.policies, before.pending_requests) == (0, 1)
    approve(
        session=session,
        request_id=request.id,
        approver=BO,
        is_approver=is_approver,
        now=system_clock(),
    )
    after = queries.summary(session=session)
    assert (after.policies, after.pending_requests, after.routes_ready) == (2, 0, False)
    assert str(after).startswith("2 external domain TLS policies")


def test_a_long_lived_session_edits_the_current_draft_not_a_stale_copy(
    engine, session: Session
) -> None:
    from bot.policy.db import new_session

    draft = _draft_with(session, "a.example\nb.example")  # this session now caches the draft
    with new_session(engine) as other:  # another replica adds a line
        fresh, _ = add_text(
            session=other,
            draft_id=draft.id,
            version=draft.version,
            text="c.example",
            actor=ANN,
            now=system_clock(),
        )
    first = draft.lines[0]["id"]
    updated = remove_line(
        session=session,
        draft_id=draft.id,
        version=fresh.version,
        line_id=first,
        actor=ANN,
        now=system_clock(),
    )
    assert [line["domain"] for line in updated.lines] == ["b.example", "c.example"]
