"""Topic filter translation: SNS filter policy, Service Bus SQL, Pub/Sub filter."""

from __future__ import annotations

import json

from spec.filters import (
    filter_expression,
    matches,
    pubsub_filter,
    servicebus_sql,
    sns_filter_policy,
)

FILTER = {"type": ["order.created", "order.updated"], "source": "shop"}


def test_sns_policy_lists_every_value():
    assert json.loads(sns_filter_policy(FILTER)) == {"source": ["shop"], "type": ["order.created", "order.updated"]}


def test_servicebus_sql_uses_in_for_lists_and_doubles_quotes():
    assert servicebus_sql(FILTER) == "source = 'shop' AND type IN ('order.created', 'order.updated')"
    assert servicebus_sql({"owner": "O'Brien"}) == "owner = 'O''Brien'"


def test_servicebus_sql_brackets_keywords_and_hyphens():
    assert servicebus_sql({"event-type": "a", "user": "b", "In": "c"}) == "[In] = 'c' AND [event-type] = 'a' AND [user] = 'b'"


def test_servicebus_sql_without_conditions_matches_all():
    assert servicebus_sql({}) == "1=1"


def test_pubsub_filter_ors_list_values_and_quotes():
    assert pubsub_filter(FILTER) == (
        'attributes.source = "shop" AND (attributes.type = "order.created" OR attributes.type = "order.updated")')
    assert pubsub_filter({"note": 'say "hi" \\ bye'}) == 'attributes.note = "say \\"hi\\" \\\\ bye"'
    assert pubsub_filter({"ce-type": "é"}) == 'attributes.ce-type = "é"'


def test_filter_expression_dispatches_per_cloud():
    assert filter_expression("aws", FILTER) == sns_filter_policy(FILTER)
    assert filter_expression("azure", FILTER) == servicebus_sql(FILTER)
    assert filter_expression("gcp", FILTER) == pubsub_filter(FILTER)


def test_neutral_semantics():
    assert matches(FILTER, {"type": "order.updated", "source": "shop", "extra": "x"})
    assert not matches(FILTER, {"type": "order.deleted", "source": "shop"})
    assert not matches(FILTER, {"type": "order.created"})
    assert matches({}, {})
