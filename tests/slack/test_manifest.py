"""The Slack app manifest matches what the bot serves."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.transports.slack import QUERY_COMMANDS
from bot.transports.slack_commands import USAGE

MANIFEST = Path(__file__).resolve().parents[2] / "slack-app-manifest.yaml"


def test_manifest_declares_every_served_command_at_the_events_url() -> None:
    """Each slash command the bot handles is in the manifest, pointing at /slack/events, and nothing else is."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {*QUERY_COMMANDS, "/incident", "/pipeline-health"} == set(USAGE)
    assert all(c["url"] == "https://YOUR-HOST/slack/events" for c in commands.values())
    assert manifest["settings"]["interactivity"] == {"is_enabled": True,
                                                     "request_url": "https://YOUR-HOST/slack/events"}


def test_manifest_asks_for_the_scopes_the_chat_adapter_uses() -> None:
    """Channel creation, posting, invites by email, bookmarks and history lookups are all granted."""
    scopes = set(yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["oauth_config"]["scopes"]["bot"])
    assert {"channels:manage", "channels:read", "chat:write", "commands", "users:read", "users:read.email",
            "bookmarks:write", "channels:history", "files:write", "usergroups:read"} <= scopes


def test_manifest_lets_people_sign_in_to_the_web_view() -> None:
    """Sign in with Slack: the OpenID user scopes and the web view's callback as redirect URL."""
    oauth = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["oauth_config"]
    assert set(oauth["scopes"]["user"]) == {"openid", "profile", "email"}
    assert oauth["redirect_urls"] == ["https://YOUR-HOST/login/callback"]
