"""Webhooks: per-agent registrations, signed delivery, and the receiver's verify helper.

Each delivery is a POST of the event JSON with the header

    Omnicloud-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

A receiver recomputes the HMAC over the raw body with the webhook's secret (shown once, at
registration) and rejects timestamps older than a few minutes, so a captured request cannot
be replayed later: `verify(secret, header, body)` does both. The event id (header
`Omnicloud-Event-Id`, field `id`) is stable across retries: receivers dedupe on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

SIGNATURE_HEADER = "Omnicloud-Signature"
DEFAULT_TOLERANCE = 300  # seconds


class SignatureError(ValueError):
    """The webhook request is not authentic or too old."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for `body` sent at `timestamp` (default: now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str | None, body: bytes, *, tolerance: int = DEFAULT_TOLERANCE,
           now: float | None = None) -> int:
    """Check a delivery; returns its timestamp, or raises SignatureError saying why not.

    Pass the raw request body, byte for byte (not re-serialised JSON).
    """
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError("signature header has no valid t=<unix seconds>") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"signature timestamp is {int(current - timestamp)}s away from now (tolerance {tolerance}s)")
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", [])):
        raise SignatureError("signature does not match the body")
    return timestamp


def is_valid(secret: str, header: str | None, body: bytes, *, tolerance: int = DEFAULT_TOLERANCE) -> bool:
    try:
        verify(secret, header, body, tolerance=tolerance)
    except SignatureError:
        return False
    return True


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def wants(webhook: dict[str, Any], event_type: str) -> bool:
    events = webhook.get("events") or ["*"]
    return "*" in events or event_type in events


def public(webhook: dict[str, Any]) -> dict[str, Any]:
    return {k: webhook[k] for k in ("webhook_id", "agent_id", "url", "events", "description", "created_at")
            if k in webhook}


class DeliveryFailed(Exception):
    pass


PRIVATE_SETTING = "WEBHOOK_ALLOW_PRIVATE_NETWORKS"


def private_networks_allowed() -> bool:
    """Locally (`omnicloud dev`) webhooks may target this machine; on a cloud only if the setting says so."""
    from runtime.links import current_environ

    env = current_environ()
    return env.get("OMNICLOUD_CLOUD", "local") == "local" or env.get(PRIVATE_SETTING, "").lower() in ("1", "true", "yes")


def check_destination(url: str) -> None:
    """Refuse webhook targets on loopback, private, link-local (cloud metadata) or reserved addresses,
    so a registered URL cannot reach into the platform's own network. Checked at delivery, on every
    address the host resolves to."""
    if private_networks_allowed():
        return
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise DeliveryFailed(f"{url} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global:
            raise DeliveryFailed(f"{url} resolves to {address}, a non-public address; webhooks may only target "
                                 f"public hosts (set {PRIVATE_SETTING}=true to allow private networks)")


def post(url: str, secret: str, event: dict[str, Any], *, timeout: float = 10.0) -> int:
    """POST one signed event; the HTTP status, or DeliveryFailed for anything but 2xx."""
    import http.client
    import urllib.error
    import urllib.request

    check_destination(url)
    body = json.dumps(event, separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json",
        "user-agent": "omnicloud-agents-webhooks/1",
        SIGNATURE_HEADER: sign(secret, body),
        "Omnicloud-Event-Id": str(event.get("id", "")),
        "Omnicloud-Event-Type": str(event.get("type", "")),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"{url} unreachable: {getattr(exc, 'reason', exc)}") from None
    except (ValueError, http.client.InvalidURL) as exc:  # a URL stored before validation was stricter
        raise DeliveryFailed(f"{url} is not a valid URL: {exc}") from None
