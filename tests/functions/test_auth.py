"""Authentication and permissions: API keys, HS256/RS256 JWTs, the bootstrap, and every route guarded."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.api import OPERATIONS, PUBLIC, app

from .conftest import SECRETS, body

AUDIENCE, ISSUER = "agents-api", "agents"


def _token(claims: dict | None = None, *, key: str | bytes = SECRETS["JWT_SECRET"], alg: str = "HS256",
           drop: tuple[str, ...] = ()) -> str:
    now = int(time.time())
    payload = {"sub": "alice", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 300, "tenant": "acme",
               "permissions": ["agent:read"], **(claims or {})}
    for claim in drop:
        payload.pop(claim)
    return jwt.encode(payload, key, algorithm=alg)


def _refused(response, status: int, code: str, says: str = "") -> None:
    assert response.status == status, response.body
    error = body(response)["error"]
    assert error["code"] == code and says in error["message"]
    assert "Traceback" not in error["message"]


@pytest.fixture(scope="module")
def rsa_keys():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem, public_pem.decode()


def test_missing_or_malformed_credentials_are_401(cloud):
    _refused(cloud.http("GET", "/agents"), 401, "unauthorized", "missing credentials")
    _refused(cloud.http("GET", "/agents", headers={"authorization": "Basic abc"}), 401, "unauthorized", "Bearer")
    _refused(cloud.http("GET", "/agents", token="not-a-jwt"), 401, "unauthorized", "malformed")
    assert cloud.http("GET", "/agents").headers.get("www-authenticate", "").startswith("Bearer")


def test_every_route_but_the_public_ones_requires_credentials(cloud):
    checked = 0
    for route in app.routes:
        if OPERATIONS[(route.method, route.template)].permission == PUBLIC:
            assert route.template in ("/health", "/openapi.json", "/admin/bootstrap", "/ui", "/ui/{name}")
            continue
        path = route.template.replace("{", "").replace("}", "")
        response = cloud.http(route.method, path, {"name": "x"} if route.method in ("POST", "PUT", "PATCH") else None)
        assert response.status == 401, f"{route.method} {route.template} answered {response.status}"
        checked += 1
    assert checked >= 20


def test_valid_hs256_token_grants_its_permissions_only(cloud):
    me = cloud.http("GET", "/me", token=_token())
    assert me.status == 200 and body(me) == {"subject": "jwt:alice", "kind": "jwt", "tenant_id": "acme",
                                             "permissions": ["agent:read"]}
    assert cloud.http("GET", "/agents", token=_token()).status == 200
    _refused(cloud.http("POST", "/agents", {"name": "a"}, token=_token()), 403, "forbidden", "agent:create")
    scoped = _token({"permissions": None, "scope": "agent:read agent:create"}, drop=("permissions",))
    assert cloud.http("POST", "/agents", {"name": "a"}, token=scoped).status == 201


@pytest.mark.parametrize(("claims", "says"), [
    ({"exp": int(time.time()) - 3600}, "expired"),
    ({"aud": "someone-else"}, "audience"),
    ({"iss": "evil"}, "issuer"),
])
def test_expired_or_misaddressed_tokens_are_401(cloud, claims, says):
    _refused(cloud.http("GET", "/agents", token=_token(claims)), 401, "unauthorized", says)


def test_token_without_expiry_is_401(cloud):
    _refused(cloud.http("GET", "/agents", token=_token(drop=("exp",))), 401, "unauthorized", "exp")


def test_token_signed_with_another_secret_is_401(cloud):
    forged = _token(key="another-secret-that-is-32-bytes-long!")
    _refused(cloud.http("GET", "/agents", token=forged), 401, "unauthorized", "signature")


def test_alg_none_token_is_401(cloud):
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {"sub": "mallory", "aud": AUDIENCE, "iss": ISSUER, "exp": now + 300, "permissions": ["admin:*"]}
    for alg in ("none", "None", "NONE"):
        unsigned = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."
        _refused(cloud.http("GET", "/agents", token=unsigned), 401, "unauthorized", "algorithm")


def test_rs256_token_checked_against_the_configured_public_key(cloud, rsa_keys):
    private_pem, public_pem = rsa_keys
    token = _token({"permissions": ["agent:read"]}, key=private_pem, alg="RS256")
    _refused(cloud.http("GET", "/agents", token=token), 401, "unauthorized", "JWT_PUBLIC_KEY")
    cloud.settings["JWT_PUBLIC_KEY"] = public_pem.replace("\n", "\\n")  # one-line form, as in a .env file
    assert cloud.http("GET", "/agents", token=token).status == 200
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _refused(cloud.http("GET", "/agents", token=_token(key=other, alg="RS256")), 401, "unauthorized", "signature")


def test_hs256_token_keyed_with_the_public_key_is_401(cloud, rsa_keys):
    """Algorithm confusion: the RS256 public key must never be accepted as an HMAC secret."""
    _, public_pem = rsa_keys
    cloud.settings["JWT_PUBLIC_KEY"] = public_pem
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    now = int(time.time())
    claims = base64.urlsafe_b64encode(json.dumps({"sub": "m", "aud": AUDIENCE, "iss": ISSUER, "exp": now + 60,
                                                  "permissions": ["admin:*"]}).encode()).decode().rstrip("=")
    import hashlib
    import hmac
    signature = base64.urlsafe_b64encode(hmac.new(public_pem.encode(), f"{header}.{claims}".encode(),
                                                  hashlib.sha256).digest()).decode().rstrip("=")
    _refused(cloud.http("GET", "/agents", token=f"{header}.{claims}.{signature}"), 401, "unauthorized", "signature")


def test_bootstrap_creates_one_admin_key_once(cloud):
    _refused(cloud.http("POST", "/admin/bootstrap", token="wrong"), 401, "unauthorized", "bootstrap token")
    first = cloud.http("POST", "/admin/bootstrap", token=SECRETS["BOOTSTRAP_TOKEN"])
    assert first.status == 201
    key = body(first)["key"]
    assert body(first)["permissions"] == ["admin:*", "platform:*"]
    assert body(first)["tenant"]["tenant_id"] == body(first)["tenant_id"]
    assert cloud.http("GET", "/admin/keys", token=key).status == 200
    _refused(cloud.http("POST", "/admin/bootstrap", token=SECRETS["BOOTSTRAP_TOKEN"]), 409, "already_bootstrapped")


def test_api_keys_are_stored_hashed_and_shown_once(cloud, admin):
    created = cloud.http("POST", "/admin/keys", {"name": "reader", "permissions": ["agent:read"]}, token=admin)
    assert created.status == 201
    key, key_id = body(created)["key"], body(created)["key_id"]
    database = (cloud.state_dir / "state.db").read_bytes()
    wal = cloud.state_dir / "state.db-wal"
    stored = database + (wal.read_bytes() if wal.exists() else b"")
    assert key.encode() not in stored and admin.encode() not in stored
    listed = body(cloud.http("GET", "/admin/keys", token=admin))["items"]
    assert {k["key_id"] for k in listed} >= {key_id} and all("key" not in k and "key_sha256" not in k for k in listed)
    assert cloud.http("GET", "/agents", token=key).status == 200
    _refused(cloud.http("POST", "/agents", {"name": "x"}, token=key), 403, "forbidden", "agent:create")
    _refused(cloud.http("GET", "/admin/keys", token=key), 403, "forbidden", "admin:*")


def test_revoked_and_unknown_keys_are_401(cloud, admin):
    key_id = body(cloud.http("POST", "/admin/keys", {"name": "tmp", "permissions": ["task:read"]}, token=admin))
    key = key_id["key"]
    assert cloud.http("GET", "/me", token=key).status == 200
    assert cloud.http("DELETE", f"/admin/keys/{key_id['key_id']}", token=admin).status == 204
    _refused(cloud.http("GET", "/me", token=key), 401, "unauthorized", "unknown or revoked")
    _refused(cloud.http("GET", "/me", token=key[:-4] + "AAAA"), 401, "unauthorized", "unknown or revoked")


def test_key_creation_validates_permissions(cloud, admin):
    _refused(cloud.http("POST", "/admin/keys", {"name": "x", "permissions": ["root"]}, token=admin),
             400, "invalid_request", "permissions")
