"""Authentication and permissions: API keys (stored as SHA-256) and JWT bearer tokens (HS256, RS256).

Every request carries `Authorization: Bearer <credential>`. A credential starting with `ak_`
is an API key; anything else must be a JWT. Permissions: agent:create|read|update|delete,
task:create|read, admin:* (everything). Tokens carry them in `permissions` (a list) or
`scope` (space separated).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from runtime import ConditionFailed, HTTPError

from . import store

PERMISSIONS = ("agent:create", "agent:read", "agent:update", "agent:delete", "task:create", "task:read", "admin:*")
KEY_PREFIX = "ak_"
ALGORITHMS = ("HS256", "RS256")
KEYS_PK = "apikeys"
BOOTSTRAP_KEY = ("meta", "bootstrap")


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: str  # "api_key" | "jwt"
    permissions: frozenset[str]

    def allows(self, permission: str) -> bool:
        family = permission.split(":", 1)[0]
        return "admin:*" in self.permissions or permission in self.permissions or f"{family}:*" in self.permissions


def unauthorized(message: str) -> HTTPError:
    return HTTPError(401, "unauthorized", message, headers={"www-authenticate": 'Bearer realm="agents"'})


def credential(request) -> str:
    header = request.header("authorization")
    if not header:
        raise unauthorized("missing credentials; send 'Authorization: Bearer <api key or JWT>'")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized("the Authorization header must be 'Bearer <api key or JWT>'")
    return value.strip()


def authenticate(request) -> Principal:
    token = credential(request)
    if token.startswith(KEY_PREFIX):
        return _api_key_principal(token)
    return _jwt_principal(token)


def require(request, permission: str) -> Principal:
    """The caller, if authenticated and holding `permission`; a 401/403 HTTPError otherwise."""
    principal = authenticate(request)
    if not principal.allows(permission):
        raise HTTPError(403, "forbidden", f"the credential of {principal.subject!r} lacks the {permission!r} permission")
    return principal


# -- API keys ------------------------------------------------------------------------------

_key_cache: dict[str, tuple[float, Principal]] = {}
_key_cache_lock = threading.Lock()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _api_key_principal(key: str) -> Principal:
    digest = key_hash(key)
    ttl = store.int_setting("API_KEY_CACHE_SECONDS", 10)
    cached = _key_cache.get(digest)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    parts = key.split("_", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise unauthorized("malformed API key; keys look like ak_<id>_<secret>")
    item = store.table("agents").get(KEYS_PK, parts[1])
    if item is None or not hmac.compare_digest(item.get("key_sha256", ""), digest):
        raise unauthorized("unknown or revoked API key")
    principal = Principal(subject=f"key:{item['key_id']}", kind="api_key", permissions=frozenset(item["permissions"]))
    with _key_cache_lock:
        _key_cache[digest] = (time.monotonic() + ttl, principal)
    return principal


def forget_cached_keys() -> None:
    with _key_cache_lock:
        _key_cache.clear()


def create_key(name: str, permissions: list[str], created_by: str) -> tuple[str, dict[str, Any]]:
    """A new API key: (the key, shown once; the stored item, which holds only its hash)."""
    key_id = store.new_id("k").split("_", 1)[1]
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    item = {"pk": KEYS_PK, "sk": key_id, "key_id": key_id, "name": name, "permissions": sorted(set(permissions)),
            "key_sha256": key_hash(key), "created_at": store.iso(store.now()), "created_by": created_by}
    store.table("agents").put(item, if_absent=True)
    return key, item


def public_key(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("key_id", "name", "permissions", "created_at", "created_by") if k in item}


def bootstrap(request, name: str) -> tuple[str, dict[str, Any]]:
    """The first admin key, for the holder of the `bootstrap-token` secret; once per installation."""
    expected = store.secret("bootstrap-token").value()
    if not expected:
        raise HTTPError(503, "bootstrap_disabled", "the bootstrap-token secret is empty; set it to bootstrap")
    provided = credential(request)
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        raise unauthorized("wrong bootstrap token; use the bootstrap-token secret's value")
    agents = store.table("agents")
    # Key first, marker second: a crash in between leaves an unusable orphan key, never a
    # second admin key.
    key, item = create_key(name, ["admin:*"], created_by="bootstrap")
    try:
        agents.put({"pk": BOOTSTRAP_KEY[0], "sk": BOOTSTRAP_KEY[1], "key_id": item["key_id"],
                    "at": store.iso(store.now())}, if_absent=True)
    except ConditionFailed:
        agents.delete(KEYS_PK, item["key_id"])
        raise HTTPError(409, "already_bootstrapped",
                        "the first admin key was already created; create more keys with an admin key "
                        "(POST /admin/keys)") from None
    return key, item


# -- JWT -----------------------------------------------------------------------------------

def _public_key_pem() -> str | None:
    pem = store.setting("JWT_PUBLIC_KEY")
    return pem.replace("\\n", "\n") if pem else None


def _jwt_principal(token: str) -> Principal:
    import jwt  # PyJWT, imported on the first bearer token, not at cold start

    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise unauthorized("malformed bearer token; send an API key (ak_...) or a JWT") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise unauthorized(f"token algorithm {alg!r} is not accepted; sign with HS256 or RS256")
    if alg == "HS256":
        key: Any = store.secret("jwt-secret").value()
        if not key:
            raise unauthorized("HS256 tokens are not accepted: the jwt-secret secret is empty")
    else:
        key = _public_key_pem()
        if not key:
            raise unauthorized("RS256 tokens are not accepted: no JWT_PUBLIC_KEY is configured")
    audience = store.setting("JWT_AUDIENCE", "agents-api")
    issuer = store.setting("JWT_ISSUER", "agents")
    try:
        claims = jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer,
                            leeway=store.int_setting("JWT_LEEWAY_SECONDS", 30),
                            options={"require": ["exp", "aud", "iss", "sub"]})
    except jwt.ExpiredSignatureError:
        raise unauthorized("token expired; get a new one") from None
    except jwt.InvalidAudienceError:
        raise unauthorized(f"token audience is wrong; expected {audience!r}") from None
    except jwt.InvalidIssuerError:
        raise unauthorized(f"token issuer is wrong; expected {issuer!r}") from None
    except jwt.InvalidSignatureError:
        raise unauthorized("token signature is invalid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise unauthorized(f"token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidKeyError:
        raise unauthorized(f"the configured {alg} key is unusable; ask an operator to fix it") from None
    except jwt.InvalidTokenError as exc:
        raise unauthorized(f"invalid token: {exc}") from None
    except ValueError:
        raise unauthorized(f"the configured {alg} key is unusable; ask an operator to fix it") from None
    granted = claims.get("permissions")
    if granted is None:
        granted = str(claims.get("scope", "")).split()
    if not isinstance(granted, list):
        raise unauthorized("token claim 'permissions' must be a list of strings")
    return Principal(subject=f"jwt:{claims['sub']}", kind="jwt", permissions=frozenset(str(p) for p in granted))
