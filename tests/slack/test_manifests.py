"""The app manifests ask for the least scopes, and deliver what the bot listens for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

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
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
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
