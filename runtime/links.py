"""Links: how a function finds the resources app.yaml let it touch, and refuses the others.

Each link arrives as one environment variable, set by the provider (or `omnicloud dev`):
``OMNICLOUD_LINK_<NAME>`` (name upper-cased, ``-`` -> ``_``) holding JSON::

    {"kind": "table", "verbs": ["read", "write"], ...backend properties}

(compact: the logical name is the variable's name, not repeated in the value; AWS caps a function's
whole environment at 4 KB, see spec.checks). `link_value` is the one encoder: the Function component
encodes what each kind's mapping gives (`link_properties` in providers/<cloud>/<kind>.py, or a
package's own mapping), and `omnicloud dev` what each kind's `local_link` gives (omnicloud/kinds.py).

Backend properties per cloud of the built-in kinds (what each backend reads):
  aws    table: name, partition_key, sort_key, ttl | queue: url, arn | topic: arn | secret: arn
  azure  table: endpoint, name (+ keys) | queue/topic: namespace, name | secret: vault_url, name
  gcp    table: project, database, collection (+ keys) | queue/topic: topic (projects/p/topics/t) | secret: name (projects/p/secrets/s)
  local  table/queue/topic: name (+ keys) | secret: env (variable holding the value)
"""

from __future__ import annotations

import contextvars
import json
import os
from collections.abc import Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    from typing import Any

ENV_PREFIX = "OMNICLOUD_LINK_"


class LinkError(PermissionError):
    """The function was not linked to this resource, or not granted this verb."""


class Link:
    """A resolved link: the resource's logical name and kind, the granted verbs, backend properties."""

    __slots__ = ("logical", "kind", "verbs", "props")

    def __init__(self, logical: str, kind: str, verbs: tuple[str, ...], props: dict[str, Any] | None = None):
        self.logical = logical
        self.kind = kind
        self.verbs = verbs
        self.props = {} if props is None else props

    def _key(self) -> tuple[str, str, tuple[str, ...]]:
        return self.logical, self.kind, self.verbs

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, Link) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Link(logical={self.logical!r}, kind={self.kind!r}, verbs={self.verbs!r}, props={self.props!r})"

    def get(self, key: str, default: Any = None) -> Any:
        return self.props.get(key, default)

    def require(self, key: str) -> Any:
        if key not in self.props or self.props[key] in (None, ""):
            raise LinkError(f"link {self.logical!r} ({self.kind}) has no {key!r}; redeploy so the link is complete")
        return self.props[key]


def env_name(logical: str) -> str:
    return ENV_PREFIX + logical.upper().replace("-", "_")


def link_value(kind: str, verbs: list[str] | tuple[str, ...], props: Mapping[str, Any]) -> str:
    """The JSON value of a link variable: kind, verbs and the backend properties, compact."""
    body = {**props, "kind": kind, "verbs": list(verbs)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def link_env(logical: str, kind: str, verbs: list[str] | tuple[str, ...], **props: Any) -> dict[str, str]:
    """The environment entry that links `logical` (used by providers and the dev server)."""
    return {env_name(logical): link_value(kind, verbs, props)}


# Where several functions share one process (`omnicloud dev`), each invocation sees only its
# own function's environment: the dev server sets it here for the duration of the call.
_environ: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("omnicloud_environ", default=None)


class use_environ:  # noqa: N801  (used as a function: `with use_environ(env):`)
    """Resolve links (and OMNICLOUD_* settings) from `environ` instead of os.environ.

    A class rather than @contextlib.contextmanager: it wraps every local invocation, and a
    generator-based context manager costs more than the rest of the switch.
    """

    __slots__ = ("environ", "_token")

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def __enter__(self) -> None:
        self._token = _environ.set(self.environ)

    def __exit__(self, *exc_info: object) -> None:
        _environ.reset(self._token)


def current_environ() -> Mapping[str, str]:
    override = _environ.get()
    return os.environ if override is None else override


def resolve(logical: str, kind: str, verb: str | None = None, environ: Mapping[str, str] | None = None) -> Link:
    """The link for `logical`, checked for `kind` and `verb`; LinkError otherwise."""
    env = current_environ() if environ is None else environ
    function = env.get("OMNICLOUD_FUNCTION", "this function")
    raw = env.get(env_name(logical))
    if raw is None:
        raise LinkError(
            f"{function} is not linked to {kind} {logical!r}; add `{logical}: [...]` under its links in app.yaml"
        )
    try:
        data = json.loads(raw)
    except ValueError:
        raise LinkError(f"{env_name(logical)} is not valid JSON; redeploy to rewrite the link") from None
    link = Link(logical=logical, kind=data.get("kind", ""), verbs=tuple(data.get("verbs", ())),
                props={k: v for k, v in data.items() if k not in ("kind", "verbs", "logical")})
    if link.kind != kind:
        raise LinkError(f"{logical!r} is a {link.kind}, not a {kind}")
    if verb is not None and verb not in link.verbs:
        granted = ", ".join(link.verbs) or "nothing"
        raise LinkError(
            f"{function} may not {verb} {kind} {logical!r} (granted: {granted}); add {verb!r} to its link in app.yaml"
        )
    return link
