"""One HTTP request, four deliveries: `omnicloud dev`'s gateway, AWS, Azure and Google Cloud all hand the
handler the same neutral Request (runtime/adapters/base.http_request builds it for each of them).

The request repeats a query key and a cookie name (every adapter keeps the first value, and all
of them in query_all), percent-encodes its path and query, and carries a body. Each cloud gets it
the way its front end delivers it: API Gateway HTTP API (payload 2.0, cookies split out) and REST
API (payload 1.0, multi-value maps, decoded), the Functions host's HttpRequest, and Cloud
Functions behind API Gateway with x-google-backend (the caller's Authorization moved to
X-Forwarded-Authorization). The local one goes through a real `omnicloud dev` over a socket.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from urllib.parse import unquote

import azure.functions as func
import pytest

from runtime.adapters import aws
from runtime.adapters import azure as azure_adapter
from tests.dev.conftest import DevProcess
from tests.events import load

from .adapter_support import AzureContext, LambdaContext, gcp_client, target

pytestmark = pytest.mark.e2e

APP = Path(__file__).parent / "apps" / "echo" / "app.yaml"
RAW_PATH = "/echo/a%20b/c%C3%A9"
RAW_QUERY = "tag=x&tag=y&q=1&empty=&plus=a+b&pct=%C3%A9&q=2"
BODY = '{"hello": "wörld"}'.encode()
COOKIE = "session=first; theme=dark; session=second"
# What the client sends (names in lower case: HTTP API and the Functions host lower-case them, and the
# neutral Headers does for everyone). The client's address, 127.0.0.1, is what each front end reports.
HEADERS = {
    "host": "api.example.com",
    "content-type": "application/json",
    "content-length": str(len(BODY)),
    "cookie": COOKIE,
    "authorization": "Bearer caller-credential",
    "x-trace": "abc",
    "user-agent": "curl/8.5.0",
    "x-forwarded-for": "127.0.0.1",
}
GATEWAY_TOKEN = "Bearer google-signed-id-token-of-the-gateway"

EXPECTED = {
    "method": "POST",
    "path": "/echo/a b/cé",
    "route_path": "/echo/a b/cé",
    "path_params": {},
    "headers": HEADERS,
    "body": BODY.decode("latin-1"),
    "source_ip": "127.0.0.1",
    "query": {"tag": "x", "q": "1", "empty": "", "plus": "a b", "pct": "é"},
    "query_all": {"tag": ["x", "y"], "q": ["1", "2"], "empty": [""], "plus": ["a b"], "pct": ["é"]},
    "cookies": {"session": "first", "theme": "dark"},
}


def _local(tmp_path: Path) -> dict:
    server = DevProcess(APP, tmp_path / "state").start()
    try:
        head = [f"POST {RAW_PATH}?{RAW_QUERY} HTTP/1.1"] + [f"{k}: {v}" for k, v in HEADERS.items()]
        head.append("connection: close")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + BODY)
            raw = b""
            while chunk := conn.recv(65536):
                raw += chunk
    finally:
        server.stop()
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 200 "), raw
    seen = json.loads(rest.partition(b"\r\n\r\n")[2])
    # The one header only the local client had to send (to end the exchange).
    seen["headers"].pop("connection")
    return seen


def _aws_http_api() -> dict:
    event = load("aws", "apigw_v2_get")
    event.update(
        rawPath=RAW_PATH,
        rawQueryString=RAW_QUERY,
        body=BODY.decode(),
        isBase64Encoded=False,
        headers={k: v for k, v in HEADERS.items() if k != "cookie"},
        cookies=COOKIE.split("; "),
    )
    event["requestContext"]["http"].update(
        method="POST", path=unquote(RAW_PATH), sourceIp="127.0.0.1"
    )
    result = aws.make_handler(target("request_fields"), "http")(event, LambdaContext())
    assert result["statusCode"] == 200, result
    return json.loads(result["body"])


def _aws_rest_api() -> dict:
    event = load("aws", "apigw_rest_v1")
    multi: dict[str, list[str]] = {}
    for key, value in (pair.split("=", 1) for pair in RAW_QUERY.split("&")):
        multi.setdefault(unquote(key.replace("+", " ")), []).append(
            unquote(value.replace("+", " "))
        )
    # REST APIs hand over header names as the client spelt them.
    title = {k: "-".join(part.capitalize() for part in k.split("-")) for k in HEADERS}
    event.update(
        httpMethod="POST",
        path=unquote(RAW_PATH),
        body=BODY.decode(),
        isBase64Encoded=False,
        headers={title[k]: v for k, v in HEADERS.items()},
        multiValueHeaders={title[k]: [v] for k, v in HEADERS.items()},
        queryStringParameters={k: v[-1] for k, v in multi.items()},
        multiValueQueryStringParameters=multi,
    )
    event["requestContext"]["identity"]["sourceIp"] = "127.0.0.1"
    result = aws.make_handler(target("request_fields"), "http")(event, LambdaContext())
    assert result["statusCode"] == 200, result
    return json.loads(result["body"])


def _azure() -> dict:
    request = func.HttpRequest(
        method="POST",
        url=f"https://api.example.com{RAW_PATH}?{RAW_QUERY}",
        headers=HEADERS,
        params={},
        route_params={"path": RAW_PATH.lstrip("/")},
        body=BODY,
    )
    response = azure_adapter.handle_http(target("request_fields"), request, AzureContext())
    assert response.status_code == 200, response.get_body()
    return json.loads(response.get_body())


def _gcp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    # API Gateway (x-google-backend with jwt_audience) calls the function with its own ID token and
    # the caller's Authorization in X-Forwarded-Authorization.
    headers = {
        **HEADERS,
        "authorization": GATEWAY_TOKEN,
        "x-forwarded-authorization": HEADERS["authorization"],
    }
    client = gcp_client(tmp_path, monkeypatch, target("request_fields"), "http", use_cookies=False)
    response = client.post(
        f"{RAW_PATH}?{RAW_QUERY}", data=BODY, headers=headers, base_url="http://api.example.com"
    )
    assert response.status_code == 200, response.get_data()
    seen = response.get_json()
    # functions-framework adds the invocation's id as a header, as Cloud Functions does; the
    # request_id is made of it, and it is the one header the client did not send.
    assert seen["headers"].pop("function-execution-id") == seen["request_id"]
    return seen


@pytest.mark.skipif(sys.platform != "linux", reason="starts `omnicloud dev`")
def test_the_same_request_is_the_same_request_everywhere(tmp_path, monkeypatch):
    seen = {
        "local": _local(tmp_path),
        "aws-http-api": _aws_http_api(),
        "aws-rest-api": _aws_rest_api(),
        "azure": _azure(),
        "gcp": _gcp(tmp_path, monkeypatch),
    }
    for where, fields in seen.items():
        # Assigned by each platform, not sent by the client: present everywhere, compared nowhere.
        assert fields.pop("request_id"), where
    # Google's gateway identity is kept apart from the caller's request; no other front end has one.
    assert {where: fields.pop("gateway_authorization") for where, fields in seen.items()} == {
        "local": None,
        "aws-http-api": None,
        "aws-rest-api": None,
        "azure": None,
        "gcp": GATEWAY_TOKEN,
    }
    assert seen == dict.fromkeys(seen, EXPECTED)
