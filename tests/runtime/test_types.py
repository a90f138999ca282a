"""The neutral types: headers as adapters hand them over, and fields decoded when first read."""

from __future__ import annotations

from runtime.adapters import aws
from runtime.adapters.base import http_request
from runtime.types import Headers, Message, Request
from tests.events import load


def test_headers_from_wire_lower_case_every_name_and_keep_no_alias_of_the_event():
    wire = {"content-type": "application/json", "x-trace": "abc"}
    headers = Headers.from_wire(wire)
    wire["x-trace"] = "changed"
    assert dict(headers) == {"content-type": "application/json", "x-trace": "abc"}
    mixed = Headers.from_wire({"Content-Type": "text/plain", "X-Count": 3})
    assert list(mixed) == ["content-type", "x-count"] and mixed["X-COUNT"] == "3"
    assert dict(Headers.from_wire([("cookie", "a=1"), ("Cookie", "b=2"), ("accept", "x"), ("Accept", "y")])) == {
        "cookie": "a=1; b=2", "accept": "x, y"}


def test_headers_built_by_hand_keep_their_spelling_and_merge_names_differing_in_case():
    headers = Headers({"X-Api-Key": "k", "x-api-key": "l", "Accept": "*/*"})
    assert list(headers) == ["X-Api-Key", "Accept"] and headers["x-api-key"] == "k, l"
    assert "ACCEPT" in headers and headers.get(3) is None and len(headers) == 2


def test_a_request_from_the_wire_reads_and_compares_as_one_built_whole():
    request = http_request("post", "/a b", {"x-trace": "abc", "Cookie": "s=1; t=2; s=3"},
                           query="q=1&q=2&e=&p=a+b", body=b"{}", source_ip="10.0.0.1", request_id="r1")
    built = Request("POST", "/a b", headers=Headers.from_wire({"x-trace": "abc", "cookie": "s=1; t=2; s=3"}),
                    query={"q": "1", "e": "", "p": "a b"}, query_all={"q": ["1", "2"], "e": [""], "p": ["a b"]},
                    body=b"{}", cookies={"s": "1", "t": "2"}, source_ip="10.0.0.1", request_id="r1")
    assert request == built and built == request
    assert request.cookies == {"s": "1", "t": "2"} and request.query_all["q"] == ["1", "2"]
    request.headers = Headers({"x-other": "1"})  # set by a hook: a plain attribute from then on
    assert request.header("x-other") == "1" and request != built


def test_http_api_cookies_are_the_cookie_header_too():
    request = http_request("GET", "/", {"accept": "*/*"}, cookie_header="a=1; b=2")
    assert request.headers["cookie"] == "a=1; b=2" and request.cookies == {"a": "1", "b": "2"}


def test_an_sqs_message_reads_its_attributes_receive_count_and_send_time_as_an_eager_one_does():
    record = load("aws", "sqs")["Records"][0]
    record["attributes"]["ApproximateReceiveCount"] = "3"
    lazy = aws.SqsRecord(record).to_message()
    eager = Message(record["messageId"], b"Test message.", {"testAttr": "100"}, 3, record["eventSourceARN"],
                    published_at=lazy.published_at)
    assert lazy == eager
    assert (lazy.attributes, lazy.delivery_attempt, lazy.published_at.isoformat()) == (
        {"testAttr": "100"}, 3, "2018-12-17T21:37:29.183000+00:00")


def test_a_field_set_before_the_others_are_read_keeps_its_value():
    message = aws.SqsRecord(load("aws", "sqs")["Records"][0]).to_message()
    message.attributes = {"type": "set.by.a.test"}
    assert message.delivery_attempt == 1 and message.attributes == {"type": "set.by.a.test"}
    request = http_request("GET", "/", {}, query="a=1&a=2")
    request.query = {"a": "set"}
    assert request.query_all == {"a": ["1", "2"]} and request.query == {"a": "set"}
