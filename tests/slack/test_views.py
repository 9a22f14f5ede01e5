"""The largest cases of every view and message render within Block Kit's limits.

Each builder's output is parsed and validated by slack_sdk's models, which
check block counts, text lengths and element shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.export.gateway import GatewayName
from bot.export.handover import GatewayLine, PolicyGateway, Standing
from bot.policy.monitor.alerts import Condition, Severity, SubjectKind
from bot.policy.monitor.history import (
    CertificateRow,
    CheckRow,
    DomainStatus,
    LevelChange,
    ListFilter,
    Listing,
    OpenAlert,
    PolicyLine,
    RiskRow,
)
from bot.policy.validations import Checked
from bot.probe.model import Code, HostResult, Reason, TargetKind, TargetResult, Verdict
from bot.slack.listeners.commands import SUBCOMMANDS
from bot.slack.views.approval import reject_view, request_message
from bot.slack.views.domains import (
    domain_validate_view,
    domains_add_view,
    domains_view,
    review_view,
    summary_view,
)
from bot.slack.views.help import help_message
from bot.slack.views.home import home_view
from bot.slack.views.meta import Meta
from bot.slack.views.model import (
    AuditLine,
    BatchLine,
    BatchReview,
    DomainRow,
    DomainsPage,
    HomeData,
    PendingItem,
    Progress,
    RequestCard,
    RouteRow,
    RoutesPage,
    RowState,
    StatusPage,
    Summary,
)
from bot.slack.views.reports import (
    audit_message,
    domain_status_message,
    routes_message,
    status_list_message,
    status_message,
)
from bot.slack.views.results import check_message
from bot.slack.views.routes import route_add_view, route_validate_view, routes_view

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LONG = "x" * 5000
DOMAIN = ("a" * 60 + ".") * 3 + "example"


def validate_view(view: dict[str, Any]) -> None:
    model = View(**view)
    model.validate_json()
    assert len(view["blocks"]) <= 100
    for block in Block.parse_all(view["blocks"]):
        block.validate_json()


def validate_message(message: dict[str, Any]) -> None:
    assert message["text"]
    assert len(message["blocks"]) <= 50
    for block in Block.parse_all(message["blocks"]):
        block.validate_json()


def big_domains_page() -> DomainsPage:
    rows = tuple(
        DomainRow(
            key=f"l{i}",
            domain=DOMAIN,
            state=RowState.DRAFT if i % 3 else RowState.POLICY,
            verdict=Verdict.UNSUPPORTED,
            evidence=Checked(i, longest_result(), NOW, LONG),
        )
        for i in range(60)
    )
    pending = tuple(PendingItem(i, LONG) for i in range(20))
    expanded = frozenset(r.key for r in rows)
    return DomainsPage(
        rows=rows,
        page=3,
        pages=9,
        total_policies=10_000,
        draft_lines=50,
        progress=Progress(17, 50),
        pending=pending,
        expanded=expanded,
        notice=LONG,
    )


VIEWS = {
    "routes-many": lambda: routes_view(
        RoutesPage(
            routes=tuple(
                RouteRow(i, DOMAIN + ":25", Verdict.UNSUPPORTED, LONG) for i in range(200)
            ),
            pending=tuple(PendingItem(i, LONG) for i in range(30)),
            problem=LONG,
            validating=True,
        ),
        Meta(),
    ),
    "routes-none": lambda: routes_view(RoutesPage(), Meta()),
    "route-add": lambda: route_add_view(Meta()),
    "route-validate": lambda: route_validate_view(Meta()),
    "domains-largest-page": lambda: domains_view(big_domains_page(), Meta(draft=1, version=9)),
    "domains-collapsed": lambda: domains_view(
        DomainsPage(rows=big_domains_page().rows[:3], draft_lines=2), Meta(draft=1, version=1)
    ),
    "domains-add": lambda: domains_add_view(Meta(draft=1, version=1), initial="a.example\n" * 50),
    "review-51-problems": lambda: review_view(
        BatchReview(tuple(BatchLine(i, LONG, None, LONG) for i in range(1, 52))),
        Meta(draft=1, version=2),
    ),
    "review-50-clean": lambda: review_view(
        BatchReview(tuple(BatchLine(i, DOMAIN, DOMAIN, None) for i in range(1, 51))), Meta()
    ),
    "domain-validate": lambda: domain_validate_view(DOMAIN, Meta(draft=1)),
    "summary": lambda: summary_view(
        Summary(
            10_000,
            7,
            tuple(DOMAIN for _ in range(50)),
            tuple(PendingItem(i, LONG) for i in range(30)),
        ),
        Meta(draft=1, version=3),
    ),
    "reject": lambda: reject_view(Meta(request=1, channel="C1", ts="1.2"), 1),
    "home-largest": lambda: home_view(
        HomeData(
            levels={"strict": 9000, "relaxed": 1000},
            routes=12,
            pending=tuple(PendingItem(i, LONG) for i in range(100)),
            failed=tuple((DOMAIN, LONG) for _ in range(200)),
            audit=tuple(AuditLine(NOW, "U1", "policy.add", LONG) for _ in range(200)),
            watched=tuple(risk_row(i) for i in range(100)),
        )
    ),
}


@pytest.mark.parametrize("build", VIEWS.values(), ids=VIEWS.keys())
def test_the_largest_views_fit_block_kit(build: Any) -> None:
    validate_view(build())


def card(state: str) -> RequestCard:
    return RequestCard(
        id=12,
        title="Add 50 external domains",
        requester_id="U1",
        created_at=NOW,
        items=tuple(DOMAIN for _ in range(50)),
        state=state,
        counts={"Strict - Trusted Enforced": 40, "TLS Not Supported": 10},
        problems=tuple(LONG for _ in range(50)),
        warnings=tuple(LONG for _ in range(50)),
        approvals=("U2",),
        required=2,
        decided_by=None if state == "pending" else "U3",
        decided_at=None if state == "pending" else NOW,
        reason=LONG if state == "rejected" else None,
    )


@pytest.mark.parametrize("state", ["pending", "approved", "rejected"])
def test_the_largest_request_message_fits_block_kit(state: str) -> None:
    message = request_message(card(state))
    validate_message(message)
    words = str(message["blocks"])
    if state == "pending":
        assert "Approve" in words
        assert "Reject" in words
    else:
        assert "'text': 'Approve'" not in words
        assert "<@U3>" in words


def longest_result() -> TargetResult:
    hosts = tuple(
        HostResult(
            host=DOMAIN,
            address="2001:db8::1",
            port=25,
            verdict=Verdict.UNSUPPORTED,
            reasons=(Reason(Code.STARTTLS_NOT_SUPPORTED, LONG),),
        )
        for _ in range(200)
    )
    return TargetResult(
        target=DOMAIN,
        kind=TargetKind.DOMAIN,
        domain=DOMAIN,
        verdict=Verdict.UNSUPPORTED,
        hosts=hosts,
        reasons=(Reason(Code.DNS_ERROR, LONG),),
    )


@pytest.mark.parametrize("expanded", [False, True], ids=["collapsed", "expanded"])
def test_the_largest_check_answer_fits_block_kit(expanded: bool) -> None:
    result = longest_result()
    validate_message(check_message(result))
    validate_message(check_message(result, validation_id=7, checked_at=NOW, expanded=expanded))


def test_the_largest_status_page_fits_block_kit() -> None:
    line = PolicyLine(1, DOMAIN, "relaxed", "observe", NOW, Verdict.UNSUPPORTED, 3, -3)
    gates = tuple(PolicyGateway(g, LONG, Standing.DRIFT) for g in GatewayName)
    page = StatusPage(
        lines=(line,) * 20,
        listing=Listing(ListFilter.PREFIX, "a" * 200),
        offset=40,
        total=5000,
        size=20,
        levels={"strict": 4000, "relaxed": 1000},
        routes=3,
        on_gateways={DOMAIN: gates},
        gateways=tuple(GatewayLine(g, LONG, Standing.DRIFT, NOW, LONG) for g in GatewayName),
        pending=tuple(PendingItem(i, LONG) for i in range(200)),
    )
    message = status_list_message(page)
    validate_message(message)
    (nav,) = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["text"]["text"] for e in nav["elements"]] == [
        "◀ Previous",
        "Next ▶",
    ]


MESSAGES = {
    "routes-500": lambda: routes_message(
        tuple(RouteRow(i, DOMAIN + ":25", Verdict.UNSUPPORTED, LONG) for i in range(500))
    ),
    "audit-500": lambda: audit_message(
        tuple(AuditLine(NOW, "U1", "policy.added", LONG) for _ in range(500)), DOMAIN
    ),
    "status-500-failed": lambda: status_message(
        HomeData(
            levels={"strict": 1},
            routes=1,
            pending=tuple(PendingItem(i, LONG) for i in range(500)),
            failed=tuple((DOMAIN, LONG) for _ in range(500)),
        )
    ),
    "status-domain-longest-history": lambda: domain_status_message(
        DomainRow(
            "p1",
            DOMAIN,
            RowState.POLICY,
            Verdict.RELAXED,
            "strict",
            Checked(1, longest_result(), NOW, LONG),
        ),
        DOMAIN,
        longest_history(),
        changes=tuple(AuditLine(NOW, "U1", "request.approved", LONG) for _ in range(100)),
    ),
}


def risk_row(n: int) -> RiskRow:
    return RiskRow(
        kind=SubjectKind.POLICY,
        subject_id=n,
        name=DOMAIN,
        severity=Severity.CRITICAL,
        alerts=tuple(c.value for c in Condition),
        last_verdict=Verdict.UNSUPPORTED,
        last_checked_at=NOW,
        next_check_at=NOW,
    )


def longest_history() -> DomainStatus:
    return DomainStatus(
        domain=DOMAIN,
        policy_id=1,
        level="relaxed",
        mode="observe",
        relaxed_until=NOW,
        mx_hosts=(DOMAIN,) * 50,
        last_checked_at=NOW,
        next_check_at=NOW,
        checks=tuple(
            CheckRow(NOW, Verdict.UNSUPPORTED, i, LONG, (DOMAIN,), LONG) for i in range(100)
        ),
        level_changes=tuple(
            LevelChange(NOW, Verdict.STRICT, Verdict.RELAXED, i) for i in range(100)
        ),
        certificates=tuple(CertificateRow(DOMAIN, LONG, LONG, NOW, -3) for _ in range(50)),
        open_alerts=tuple(OpenAlert(str(i), LONG, Severity.WARNING, LONG, NOW) for i in range(20)),
    )


@pytest.mark.parametrize("build", MESSAGES.values(), ids=MESSAGES.keys())
def test_the_longest_answers_fit_block_kit(build: Any) -> None:
    validate_message(build())


def test_the_help_message_fits_block_kit() -> None:
    validate_message(help_message(SUBCOMMANDS, "`x` is not a /tls command."))


def test_a_page_shows_at_most_25_rows_with_their_buttons() -> None:
    view = domains_view(big_domains_page(), Meta())
    buttons = [
        e["text"]["text"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons.count("Less") == 25
    assert "Next page ▶" in buttons
    assert "◀ Previous" in buttons
    assert "Validating 17 of 50…" in str(view["blocks"])


def test_the_seed_flow_words_are_on_the_buttons() -> None:
    words = str([build() for build in VIEWS.values()])
    for word in (
        "Validate",
        "Next",
        "Add route",
        "Add External Domains",
        "Remove",
        "More",
        "Less",
        "Finish",
        "Edit",
        "Continue",
    ):
        assert f"'text': '{word}'" in words, word
    assert "'text': 'Test'" in words  # the route Validate modal's submit
    assert "'text': 'Add'" in str(
        review_view(BatchReview((BatchLine(1, "a.example", "a.example", None),)), Meta())
    )
