"""Every id the Slack surface uses: callback ids, action ids, block ids.

One StrEnum per kind so a listener and the builder that made the element can
never disagree on a spelling.
"""

from __future__ import annotations

import enum


class Command(enum.StrEnum):
    TLS = "/tls"


class View(enum.StrEnum):
    """``callback_id`` of each modal (and the App Home)."""

    WORKING = "tls_working"
    ROUTES = "tls_routes"
    ROUTE_ADD = "tls_route_add"
    ROUTE_VALIDATE = "tls_route_validate"
    DOMAINS = "tls_domains"
    DOMAINS_ADD = "tls_domains_add"
    DOMAINS_REVIEW = "tls_domains_review"
    DOMAIN_VALIDATE = "tls_domain_validate"
    SUMMARY = "tls_summary"
    REJECT_REASON = "tls_reject_reason"
    POLICY_DELETE = "tls_policy_delete"
    HOME = "tls_home"


class Action(enum.StrEnum):
    """``action_id`` of each button."""

    ROUTE_ADD = "tls_route_add"
    ROUTE_REMOVE = "tls_route_remove"
    ROUTES_VALIDATE = "tls_routes_validate"
    ROUTES_NEXT = "tls_routes_next"
    DOMAINS_ADD = "tls_domains_add"
    DOMAIN_VALIDATE = "tls_domain_validate"
    DOMAIN_REMOVE = "tls_domain_remove"
    DOMAIN_MORE = "tls_domain_more"
    DOMAIN_LESS = "tls_domain_less"
    DOMAINS_PAGE = "tls_domains_page"
    CHECK_MORE = "tls_check_more"  # on a /tls check answer; value: the validation id
    CHECK_LESS = "tls_check_less"
    ALERT_MORE = "tls_alert_more"  # on a monitoring alert; value: the alert id
    ALERT_LESS = "tls_alert_less"
    STATUS_PAGE = "tls_status_page"  # /tls status Next / Previous; value: "offset filter"
    BATCH_REMOVE = "tls_batch_remove"
    FINISH = "tls_finish"
    EDIT = "tls_edit"
    APPROVE = "tls_approve"
    REJECT = "tls_reject"
    HOME_SETUP = "tls_home_setup"
    GATEWAY_APPLIED = "tls_gateway_applied"  # Mark applied, on a hand-over
    DRIFT_ADOPT = "tls_drift_adopt"  # on a Mimecast drift alert
    DRIFT_REVERT = "tls_drift_revert"


class Block(enum.StrEnum):
    """``block_id`` of the inputs whose values the listeners read."""

    EMAIL = "tls_email"
    ROUTE = "tls_route"
    DOMAINS = "tls_domains"
    REASON = "tls_reason"
    CONFIRM = "tls_confirm"


class Field(enum.StrEnum):
    """``action_id`` of input elements (read from ``view.state.values``)."""

    EMAIL = "email"
    ROUTE = "route"
    DOMAINS = "domains"
    REASON = "reason"
    CONFIRM = "confirm"
