"""The invocation context: which trace an invocation joins, from the traceparent it was given."""

from __future__ import annotations

import pytest

from runtime import context
from runtime.types import Message

TRACE = "0af7651916cd43dd8448eb211c80319c"
VALID = f"00-{TRACE}-b7ad6b7169203331-01"


@pytest.mark.parametrize("parent", [VALID, f"  {VALID.upper()} ", VALID.replace("-01", "-00")])
def test_a_valid_traceparent_gives_its_trace_id(parent):
    assert context.valid_traceparent(parent)
    assert context.new("i", parent, "f").correlation_id == TRACE
    child = context.child_traceparent(parent)
    assert child.startswith(f"00-{TRACE}-") and child != parent


@pytest.mark.parametrize("parent", [
    f"00-{'0' * 32}-b7ad6b7169203331-01",  # an all-zero trace id is invalid (W3C trace context)
    f"00-{TRACE}-b7ad6b716920333-01",  # a span id one digit short
    f"00-{TRACE}-b7ad6b7169203331-01-ff",  # a fifth part
    f"00-{TRACE[:-1]}g-b7ad6b7169203331-01",  # not hex
    f"00_{TRACE}_b7ad6b7169203331_01",
    "",
])
def test_an_invalid_traceparent_starts_a_new_trace(parent):
    assert not context.valid_traceparent(parent)
    correlation_id = context.new("i", parent, "f").correlation_id
    assert len(correlation_id) == 32 and correlation_id != TRACE
    assert context.valid_traceparent(f"00-{correlation_id}-b7ad6b7169203331-01")


def test_an_event_given_as_the_parent_is_read_for_its_traceparent_only_when_the_trace_id_is():
    message = Message("m1", b"x", {"traceparent": VALID})
    invocation = context.new("i", message, "f")
    message.attributes["traceparent"] = f"00-{'1' * 32}-b7ad6b7169203331-01"  # changed before the first read
    assert invocation.correlation_id == "1" * 32
    assert invocation.traceparent.startswith(f"00-{'1' * 32}-")
    assert context.new("i", Message("m2", b"x"), "f").correlation_id != invocation.correlation_id


@pytest.mark.parametrize("headers", [
    {"traceparent": VALID, "accept": "*/*"},  # names in lower case, as HTTP API v2 and Azure deliver them
    {"Traceparent": VALID, "Accept": "*/*"},
    [("accept", "*/*"), ("TRACEPARENT", VALID)],
])
def test_a_request_continues_the_trace_of_its_traceparent_header_however_it_is_spelt(headers):
    from runtime.adapters.base import http_request

    request = http_request("GET", "/", headers)
    assert context.new("i", request, "f").correlation_id == TRACE
    assert request.headers["traceparent"] == VALID and request.header("accept") == "*/*"
    assert context.new("i", http_request("GET", "/", {"accept": "*/*"}), "f").correlation_id != TRACE
