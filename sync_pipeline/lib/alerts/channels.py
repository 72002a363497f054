"""Where alerts go: Slack (chat.postMessage through a slack_sdk client) or any HTTP webhook (JSON POST).

This and the two API clients are the only outbound HTTP in the product. Secrets (the Slack token,
a webhook URL that embeds a key) come from environment variables and never appear in an error.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from sync_pipeline.lib.alerts.messages import Alert
from sync_pipeline.lib.tls import tls_context


class AlertDeliveryError(RuntimeError):
    """The channel did not take the alert; it stays in the outbox and is tried again later."""


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


class SlackPoster(Protocol):
    """What we need of slack_sdk's WebClient (dagster-slack's SlackResource.get_client())."""

    def chat_postMessage(self, **kwargs: Any) -> Any: ...


class SlackChannel:
    name = "slack"

    def __init__(self, client: SlackPoster, channel: str) -> None:
        self.client = client
        self.channel = channel

    def send(self, alert: Alert) -> None:
        try:
            answer = self.client.chat_postMessage(channel=self.channel, text=alert.text(), mrkdwn=True)
        except Exception as error:  # slack_sdk raises SlackApiError, URLError, socket errors…
            raise AlertDeliveryError(f"Slack refused or was unreachable: {type(error).__name__}") from None
        if not answer.get("ok", False):
            raise AlertDeliveryError(f"Slack answered not ok: {answer.get('error', '?')}")


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, alert: Alert) -> None:
        try:
            answer = httpx.post(self.url, json=alert.as_json(), timeout=self.timeout, verify=tls_context())
        except httpx.HTTPError as error:
            # The URL may carry a key (Teams, Slack incoming webhooks): name the host only.
            raise AlertDeliveryError(
                f"webhook at {httpx.URL(self.url).host} unreachable: {type(error).__name__}"
            ) from None
        if answer.status_code >= 300:
            raise AlertDeliveryError(f"webhook at {httpx.URL(self.url).host} answered {answer.status_code}")
