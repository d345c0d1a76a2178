"""gameday.notify against a real webhook on loopback: the text is delivered as Slack expects it; a webhook that
fails or is gone is said on the output without its (secret) URL and never raises."""

from __future__ import annotations

from gameday.notify import Notifier
from tests.support import WebhookSink


def test_a_notification_is_posted_as_slack_text():
    with WebhookSink() as sink:
        assert Notifier(sink.url).send("GameDay disaster-recovery: PASS") is True
    assert sink.received == [{"text": "GameDay disaster-recovery: PASS"}]


def test_an_undeliverable_notification_is_said_without_the_url_and_does_not_raise():
    said = []
    with WebhookSink(status=500) as sink:
        assert Notifier(sink.url, said.append).send("x") is False
        url = sink.url
    assert Notifier(url, said.append).send("y") is False  # gone: connection refused
    assert said[0] == "notify: not delivered: the webhook answered HTTP 500"
    assert said[1].startswith("notify: not delivered: ConnectError") and all("secret-token" not in s for s in said)
    assert Notifier(None).send("z") is False
