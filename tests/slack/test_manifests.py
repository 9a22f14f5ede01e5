"""The app manifests ask for the least scopes, deliver what the bot listens for, and say
what the code says: the /tls usage hint comes from the subcommand table, the workflow
step's inputs and outputs from its listener."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slack.command_text import COMMAND, usage_hint
from bot.slack.listeners.commands import SUBCOMMANDS
from bot.slack.listeners.workflow import CALLBACK_ID, INPUTS, OUTPUTS

ROOT = Path(__file__).resolve().parents[2]
SCOPES = {"commands", "chat:write", "im:write", "usergroups:read", "files:write"}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "manifests" / name).read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("name", ["http.yml", "socket-mode.yml"])
def test_a_manifest_has_the_tls_command_home_and_least_scopes(name: str) -> None:
    manifest = load(name)
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == SCOPES
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/tls"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "subteam_members_changed",
        "function_executed",
    ]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_the_http_manifest_sends_everything_to_slack_events() -> None:
    manifest = load("http.yml")
    settings = manifest["settings"]
    urls = [
        manifest["features"]["slash_commands"][0]["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ]
    assert all(u.endswith("/slack/events") for u in urls)
    assert settings["socket_mode_enabled"] is False
    assert load("socket-mode.yml")["settings"]["socket_mode_enabled"] is True


def test_the_procfile_runs_the_http_mode() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    assert "web: tlsbot serve" in lines


@pytest.mark.parametrize("name", ["http.yml", "socket-mode.yml"])
def test_the_usage_hint_is_the_subcommand_tables(name: str) -> None:
    (command,) = load(name)["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["usage_hint"] == usage_hint(SUBCOMMANDS)


def test_a_manifest_that_disagrees_with_the_table_is_caught() -> None:
    assert usage_hint(SUBCOMMANDS[:-1]) != usage_hint(SUBCOMMANDS)
    assert all(s.name in usage_hint(SUBCOMMANDS) for s in SUBCOMMANDS)


@pytest.mark.parametrize("name", ["http.yml", "socket-mode.yml"])
def test_the_workflow_step_is_declared_as_its_listener_reads_it(name: str) -> None:
    manifest = load(name)
    step = manifest["functions"][CALLBACK_ID]
    assert step["title"] == "Check a domain's TLS"
    assert tuple(step["input_parameters"]["properties"]) == INPUTS
    assert step["input_parameters"]["required"] == ["domain"]
    assert tuple(step["output_parameters"]["properties"]) == OUTPUTS
    assert tuple(step["output_parameters"]["required"]) == OUTPUTS
    assert manifest["settings"]["org_deploy_enabled"] is True  # custom steps need org-ready
    assert manifest["settings"]["function_runtime"] == "remote"
