"""Authentication, permissions and tenants: API keys (stored as SHA-256) and JWTs (HS256, RS256).

Every request carries `Authorization: Bearer <credential>`. A credential starting with `ak_`
is an API key; anything else must be a JWT. Every caller belongs to one tenant: an API key to
the tenant it was created in, a JWT to the tenant its tenant claim names (`JWT_TENANT_CLAIM`,
default `tenant`). Tenant permissions: agent:create|read|update|delete, task:create|read, and
admin:* (all of those, and the tenant's keys). The platform permission `platform:*` is never
implied by another: it creates and lists tenants, and lets its holder act in another tenant by
sending `Omnicloud-Tenant: <tenant_id>`. Tokens carry permissions in `permissions` (a list) or
`scope` (space separated).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from runtime import ConditionFailed, HTTPError, LinkError

from . import store

TENANT_PERMISSIONS = ("agent:create", "agent:read", "agent:update", "agent:delete", "task:create", "task:read",
                      "admin:*")
PLATFORM_PERMISSION = "platform:*"
PERMISSIONS = (*TENANT_PERMISSIONS, PLATFORM_PERMISSION)
KEY_PREFIX = "ak_"
ALGORITHMS = ("HS256", "RS256")
TENANT_HEADER = "omnicloud-tenant"
# No '#' (the key separator), so a tenant id can never reach into another tenant's partition.
TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
TENANTS_PK = "TENANTS"
BOOTSTRAP_KEY = ("META", "BOOTSTRAP")


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: str  # "api_key" | "jwt"
    permissions: frozenset[str]
    tenant: str  # the tenant this request acts in
    home_tenant: str = ""  # the tenant of the credential (differs only for platform:* with Omnicloud-Tenant)

    def allows(self, permission: str) -> bool:
        if permission == PLATFORM_PERMISSION:
            return PLATFORM_PERMISSION in self.permissions
        family = permission.split(":", 1)[0]
        return "admin:*" in self.permissions or permission in self.permissions or f"{family}:*" in self.permissions


def unauthorized(message: str) -> HTTPError:
    return HTTPError(401, "unauthorized", message, headers={"www-authenticate": 'Bearer realm="agents"'})


def forbidden(message: str) -> HTTPError:
    return HTTPError(403, "forbidden", message)


def credential(request) -> str:
    header = request.header("authorization")
    if not header:
        raise unauthorized("missing credentials; send 'Authorization: Bearer <api key or JWT>'")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized("the Authorization header must be 'Bearer <api key or JWT>'")
    return value.strip()


def authenticate(request) -> Principal:
    """The caller, acting in its own tenant or (platform:* only) in the one Omnicloud-Tenant names."""
    token = credential(request)
    principal = _api_key_principal(token) if token.startswith(KEY_PREFIX) else _jwt_principal(token)
    wanted = request.header(TENANT_HEADER)
    if wanted is None or wanted == principal.tenant:
        return principal
    if not principal.allows(PLATFORM_PERMISSION):
        raise forbidden(f"acting in another tenant needs the {PLATFORM_PERMISSION!r} permission; "
                        "drop the Omnicloud-Tenant header")
    if not TENANT_ID.match(wanted) or tenant(wanted) is None:
        raise HTTPError(404, "tenant_not_found", f"no tenant {wanted!r}; list tenants with GET /tenants")
    return replace(principal, tenant=wanted)


def require(request, permission: str) -> Principal:
    """The caller, if authenticated and holding `permission`; a 401/403 HTTPError otherwise."""
    principal = authenticate(request)
    if not principal.allows(permission):
        raise forbidden(f"the credential of {principal.subject!r} lacks the {permission!r} permission")
    return principal


# -- tenants ---------------------------------------------------------------------------------

def tenant(tenant_id: str) -> dict[str, Any] | None:
    return store.table("agents").get(store.tenant_pk(tenant_id), "TENANT")


def public_tenant(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("tenant_id", "name", "created_at", "created_by") if k in item}


def create_tenant(name: str, created_by: str) -> dict[str, Any]:
    tenant_id = store.new_id("tn")
    item = {"pk": store.tenant_pk(tenant_id), "sk": "TENANT", "tenant_id": tenant_id, "name": name,
            "created_at": store.iso(store.now()), "created_by": created_by}
    agents = store.table("agents")
    agents.put(item, if_absent=True)
    agents.put({"pk": TENANTS_PK, "sk": f"TENANT#{tenant_id}", **public_tenant(item)}, if_absent=True)
    return item


# -- API keys ------------------------------------------------------------------------------

_key_cache: dict[str, tuple[float, Principal]] = {}
_key_cache_lock = threading.Lock()


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _api_key_principal(key: str) -> Principal:
    digest = key_hash(key)
    cached = _key_cache.get(digest)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    parts = key.split("_", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise unauthorized("malformed API key; keys look like ak_<id>_<secret>")
    item = store.table("agents").get(f"KEY#{parts[1]}", "KEY")
    if item is None or not hmac.compare_digest(item.get("key_sha256", ""), digest):
        raise unauthorized("unknown or revoked API key")
    principal = Principal(subject=f"key:{item['key_id']}", kind="api_key", permissions=frozenset(item["permissions"]),
                          tenant=item["tenant_id"], home_tenant=item["tenant_id"])
    ttl = store.int_setting("API_KEY_CACHE_SECONDS", 10)
    with _key_cache_lock:
        _key_cache[digest] = (time.monotonic() + ttl, principal)
    return principal


def forget_cached_keys() -> None:
    with _key_cache_lock:
        _key_cache.clear()


def create_key(tenant_id: str, name: str, permissions: list[str], created_by: str) -> tuple[str, dict[str, Any]]:
    """A new API key of `tenant_id`: (the key, shown once; the listed item, which holds no hash).

    The tenant's listing entry is written first: a crash in between leaves a listed key that does
    not work (and can be revoked), never a working key nobody can see."""
    key_id = store.new_id("k").split("_", 1)[1]
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    listed = {"pk": store.tenant_pk(tenant_id), "sk": f"KEY#{key_id}", "key_id": key_id, "tenant_id": tenant_id,
              "name": name, "permissions": sorted(set(permissions)), "created_at": store.iso(store.now()),
              "created_by": created_by}
    agents = store.table("agents")
    agents.put(listed, if_absent=True)
    agents.put({**listed, "pk": f"KEY#{key_id}", "sk": "KEY", "key_sha256": key_hash(key)}, if_absent=True)
    return key, listed


def revoke_key(tenant_id: str, key_id: str) -> bool:
    """Revoke a key of `tenant_id`; False when that tenant has no such key (another tenant's included)."""
    agents = store.table("agents")
    if agents.get(store.tenant_pk(tenant_id), f"KEY#{key_id}") is None:
        return False
    agents.delete(f"KEY#{key_id}", "KEY")  # first: from here on the key does not authenticate
    agents.delete(store.tenant_pk(tenant_id), f"KEY#{key_id}")
    forget_cached_keys()
    return True


def public_key(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item[k] for k in ("key_id", "tenant_id", "name", "permissions", "created_at", "created_by")
            if k in item}


def bootstrap(request, tenant_name: str, key_name: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The first tenant and its admin key (admin:* and platform:*), for the holder of the
    `bootstrap-token` secret; once per installation. (tenant, key, key item)."""
    try:
        expected = store.secret("bootstrap-token").value()
    except LinkError:
        expected = ""
    if not expected:
        raise HTTPError(503, "bootstrap_disabled", "the bootstrap-token secret has no value; set it to bootstrap")
    provided = credential(request)
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        raise unauthorized("wrong bootstrap token; use the bootstrap-token secret's value")
    agents = store.table("agents")
    if agents.get(*BOOTSTRAP_KEY) is not None:
        raise _already_bootstrapped()
    # Marker last: a crash before it leaves an orphan tenant and key that a retry does not reuse;
    # the marker's conditional write makes sure only one bootstrap ever hands out its key.
    made = create_tenant(tenant_name, created_by="bootstrap")
    key, item = create_key(made["tenant_id"], key_name, ["admin:*", PLATFORM_PERMISSION], created_by="bootstrap")
    try:
        agents.put({"pk": BOOTSTRAP_KEY[0], "sk": BOOTSTRAP_KEY[1], "tenant_id": made["tenant_id"],
                    "key_id": item["key_id"], "at": store.iso(store.now())}, if_absent=True)
    except ConditionFailed:  # a concurrent bootstrap won: undo ours
        revoke_key(made["tenant_id"], item["key_id"])
        agents.delete(TENANTS_PK, f"TENANT#{made['tenant_id']}")
        agents.delete(store.tenant_pk(made["tenant_id"]), "TENANT")
        raise _already_bootstrapped() from None
    return made, key, item


def _already_bootstrapped() -> HTTPError:
    return HTTPError(409, "already_bootstrapped",
                     "the first tenant and admin key were already created; create more keys with an admin key "
                     "(POST /admin/keys) and more tenants with a platform key (POST /tenants)")


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
        try:
            key: Any = store.secret("jwt-secret").value()
        except LinkError:
            key = ""
        if not key:
            raise unauthorized("HS256 tokens are not accepted: the jwt-secret secret is empty")
    else:
        key = _public_key_pem()
        if not key:
            raise unauthorized("RS256 tokens are not accepted: no JWT_PUBLIC_KEY is configured")
    audience = store.setting("JWT_AUDIENCE", "agents-api")
    issuer = store.setting("JWT_ISSUER", "agents")
    tenant_claim = store.setting("JWT_TENANT_CLAIM", "tenant")
    try:
        claims = jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer,
                            leeway=store.int_setting("JWT_LEEWAY_SECONDS", 30),
                            options={"require": ["exp", "aud", "iss", "sub", tenant_claim]})
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
    tenant_id = claims[tenant_claim]
    if not isinstance(tenant_id, str) or not TENANT_ID.match(tenant_id):
        raise unauthorized(f"token claim {tenant_claim!r} must be a tenant id (letters, digits, '_', '.', ':', '-')")
    granted = claims.get("permissions")
    if granted is None:
        granted = str(claims.get("scope", "")).split()
    if not isinstance(granted, list):
        raise unauthorized("token claim 'permissions' must be a list of strings")
    return Principal(subject=f"jwt:{claims['sub']}", kind="jwt", permissions=frozenset(str(p) for p in granted),
                     tenant=tenant_id, home_tenant=tenant_id)
