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


def public_delivery(item: dict[str, Any]) -> dict[str, Any]:
    """One attempt of the delivery log as the API shows it."""
    keys = ("webhook_id", "event_id", "event_type", "task_id", "url", "ok", "status", "error", "attempt", "at",
            "duration_ms")
    return {k: item.get(k) for k in keys}


class DeliveryFailed(Exception):
    pass


# -- where a webhook may point ------------------------------------------------------------------
#
# Every address a webhook's host resolves to is checked, at registration and again at each
# delivery, and the delivery then connects to exactly the address that passed (no second DNS
# lookup, so a rebinding resolver cannot swap in an internal address), with the Host header and
# the TLS server name (SNI and certificate check) still the URL's host. Redirects are never
# followed: a 3xx is a failed delivery.

PRIVATE_SETTING = "WEBHOOK_ALLOW_PRIVATE_NETWORKS"

# Refused always, even where private networks are allowed: addresses that smuggle an IPv4
# address inside IPv6 (a gateway or the host may turn them into 127.0.0.1 or 169.254.169.254),
# link-local networks and the cloud metadata and host services that live on them or near them.
_SMUGGLING = (
    ("::ffff:0:0/96", "an IPv4-mapped IPv6 address"),
    ("64:ff9b::/96", "a NAT64 address (RFC 6052)"),
    ("64:ff9b:1::/48", "a local-use NAT64 address (RFC 8215)"),
    ("2002::/16", "a 6to4 address (RFC 3056)"),
    ("2001::/32", "a Teredo address (RFC 4380)"),
)
_METADATA = (
    ("169.254.169.254/32", "the cloud metadata service"),
    ("fd00:ec2::254/128", "the AWS metadata service (IPv6)"),
    ("168.63.129.16/32", "Azure's host services (WireServer)"),
    ("100.100.100.200/32", "a cloud metadata service"),
    ("169.254.0.0/16", "a link-local address (cloud metadata lives there)"),
    ("fe80::/10", "a link-local address"),
)
# Allowed only under `omnicloud dev` or with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true.
_PRIVATE = (
    ("127.0.0.0/8", "a loopback address"),
    ("::1/128", "a loopback address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("fc00::/7", "a unique-local address"),
    ("100.64.0.0/10", "a carrier-grade NAT address"),
)
_networks: dict[str, tuple[tuple[Any, str], ...]] = {}


def _table(name: str) -> tuple[tuple[Any, str], ...]:
    table = _networks.get(name)
    if table is None:
        import ipaddress

        table = _networks[name] = tuple((ipaddress.ip_network(net), why) for net, why in
                                        {"always": _SMUGGLING + _METADATA, "private": _PRIVATE}[name])
    return table


def address_problem(address: Any, *, allow_private: bool) -> str | None:
    """Why a webhook must not be sent to `address` (an ipaddress object), or None if it may."""
    if address.version == 6 and int(address) >> 32 == 0 and int(address) > 1:
        return "an IPv4-compatible IPv6 address"  # ::a.b.c.d (deprecated); :: and ::1 are judged below
    for network, why in _table("always"):
        if address.version == network.version and address in network:
            return why
    for network, why in _table("private"):
        if address.version == network.version and address in network:
            return None if allow_private else why
    if address.is_multicast or address.is_unspecified or address.is_reserved or not address.is_global:
        return "a multicast, reserved or otherwise non-public address"
    return None


def private_networks_allowed() -> bool:
    """Under `omnicloud dev` (which sets OMNICLOUD_CLOUD=local) webhooks may target this machine and
    its networks; on a cloud only if WEBHOOK_ALLOW_PRIVATE_NETWORKS says so. Nothing else allows them."""
    from runtime.links import current_environ

    env = current_environ()
    return env.get("OMNICLOUD_CLOUD") == "local" or env.get(PRIVATE_SETTING, "").lower() in ("1", "true", "yes")


def shown(url: str | None) -> str:
    """`url` as it may appear in a log or an error: no user info, query string or fragment (tokens live there)."""
    from urllib.parse import urlsplit

    if not url:
        return "(none)"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an invalid URL)"
    host = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme}://{host}{port}" if parts.scheme else ""
    return origin + (parts.path or ("/" if origin else ""))


def destinations(url: str) -> list[tuple[int, str]]:
    """The (family, address) pairs to connect to for `url`: its host resolved once, every address
    checked. DeliveryFailed (a one-line reason) if the URL is unusable or any address is refused."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DeliveryFailed(f"{shown(url)} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise DeliveryFailed(f"{shown(url)} is not an http(s) URL with a host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError) as exc:
        raise DeliveryFailed(f"{shown(url)} does not resolve: {exc}") from None
    allow_private = private_networks_allowed()
    found: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        text = sockaddr[0].split("%", 1)[0]
        problem = address_problem(ipaddress.ip_address(text), allow_private=allow_private)
        if problem:
            hint = "" if allow_private else f" (set {PRIVATE_SETTING}=true to allow private networks)"
            raise DeliveryFailed(f"{shown(url)} resolves to {text}, {problem}; webhooks may only target "
                                 f"public hosts{hint}")
        if (family, sockaddr[0]) not in found:
            found.append((family, sockaddr[0]))
    if not found:
        raise DeliveryFailed(f"{shown(url)} resolves to no address")
    return found


def check_destination(url: str) -> None:
    """Refuse a webhook URL whose host resolves to a refused address (DeliveryFailed says why)."""
    destinations(url)


_pinned: dict[str, type] = {}


def _connection(scheme: str, host: str, port: int, address: str, timeout: float):
    """An http.client connection to `host` that dials `address` (already checked), nothing else."""
    if not _pinned:
        import http.client
        import socket

        class PinnedHTTPConnection(http.client.HTTPConnection):
            def __init__(self, host: str, port: int, *, address: str, timeout: float):
                super().__init__(host, port, timeout=timeout)
                self.address = address

            def connect(self) -> None:
                self.sock = socket.create_connection((self.address, self.port), self.timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        class PinnedHTTPSConnection(http.client.HTTPSConnection):
            def __init__(self, host: str, port: int, *, address: str, timeout: float):
                import ssl

                self.tls = ssl.create_default_context()
                super().__init__(host, port, timeout=timeout, context=self.tls)
                self.address = address

            def connect(self) -> None:
                raw = socket.create_connection((self.address, self.port), self.timeout)
                try:  # the certificate is checked against the URL's host, which is also the SNI name
                    self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)
                except BaseException:
                    raw.close()
                    raise

        _pinned.update(http=PinnedHTTPConnection, https=PinnedHTTPSConnection)
    return _pinned[scheme](host, port, address=address, timeout=timeout)


def post(url: str, secret: str, event: dict[str, Any], *, timeout: float = 10.0) -> int:
    """POST one signed event; the HTTP status, or DeliveryFailed for anything but 2xx (3xx included)."""
    import http.client
    from urllib.parse import urlsplit

    targets = destinations(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = json.dumps(event, separators=(",", ":")).encode("utf-8")
    headers = {
        "content-type": "application/json",
        "user-agent": "omnicloud-agents-webhooks/1",
        SIGNATURE_HEADER: sign(secret, body),
        "Omnicloud-Event-Id": str(event.get("id", "")),
        "Omnicloud-Event-Type": str(event.get("type", "")),
    }
    unreachable: Exception | None = None
    for _, address in targets:
        connection = _connection(parts.scheme, parts.hostname, port, address, timeout)
        try:
            try:
                connection.connect()
            except OSError as exc:  # nothing was sent: the next checked address may answer
                unreachable = exc
                continue
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                status, location = response.status, response.getheader("location")
            except (OSError, http.client.HTTPException) as exc:
                raise DeliveryFailed(f"{shown(url)} failed: {exc}") from None
        finally:
            connection.close()
        if 200 <= status < 300:
            return status
        if 300 <= status < 400:
            raise DeliveryFailed(f"{shown(url)} answered {status} redirecting to {shown(location)}; "
                                 "redirects are not followed: register the final URL")
        raise DeliveryFailed(f"{shown(url)} answered {status}")
    raise DeliveryFailed(f"{shown(url)} unreachable: {unreachable}")
