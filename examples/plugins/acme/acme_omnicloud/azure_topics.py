"""Acme's Azure provider: omnicloud's own, with one mapping replaced. Acme's Service Bus topics
keep messages one day (not Azure's default of the namespace maximum) and detect duplicates.

A stack uses it with `omnicloud:provider: acme-azure` (the entry point in pyproject.toml)."""

from __future__ import annotations

from typing import Any

from providers.azure import AzureProvider
from providers.azure.topic import TopicOnAzure
from spec.model import TopicSpec


class AcmeTopicOnAzure(TopicOnAzure):
    """Topic on Azure with Acme's defaults: everything else is omnicloud's (topic.py)."""

    def topic_args(self, spec: TopicSpec) -> dict[str, Any]:
        # defaultMessageTimeToLive and requiresDuplicateDetection with its window, as ISO-8601
        # durations (learn.microsoft.com/azure/service-bus-messaging/message-expiration,
        # .../duplicate-detection); duplicate detection needs the Standard tier or higher.
        return {
            "default_message_time_to_live": "P1D",
            "requires_duplicate_detection": True,
            "duplicate_detection_history_time_window": "PT10M",
        }


class AcmeAzureProvider(AzureProvider):
    mappings = {**AzureProvider.mappings, "topic": AcmeTopicOnAzure}
