"""Notifications of GameDay results to a Slack-compatible incoming webhook (`GAMEDAY_NOTIFY_WEBHOOK_URL`, a secret
read from the environment only): a GameDay's start, and its verdict with the certificate; a single run's verdict
with its report. A notification that cannot be delivered is said on the output and never fails the run."""

from __future__ import annotations

from collections.abc import Callable

import httpx

__all__ = ["Notifier"]

TIMEOUT_S = 5.0


class Notifier:
    """Posts `{"text": ...}` (what Slack, Mattermost, Rocket.Chat and Teams' Slack-compatible hooks take)."""

    def __init__(self, url: str | None, echo: Callable[[str], None] = print):
        self.url, self.echo = url, echo

    @classmethod
    def from_settings(cls, settings, echo: Callable[[str], None] = print) -> Notifier:
        """The settings' webhook (GAMEDAY_NOTIFY_WEBHOOK_URL, a secret), or none."""
        secret = settings.notify_webhook_url
        return cls(secret.get_secret_value() if secret is not None else None, echo)

    def send(self, text: str) -> bool:
        if not self.url:
            return False
        try:
            answer = httpx.post(self.url, json={"text": text}, timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            self.echo(f"notify: not delivered: {type(exc).__name__} (the webhook URL is not shown: it is a secret)")
            return False
        if answer.status_code >= 300:
            self.echo(f"notify: not delivered: the webhook answered HTTP {answer.status_code}")
            return False
        return True
