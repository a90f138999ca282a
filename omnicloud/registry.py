"""The one registry of kinds and clouds: what a kind is, which kinds and providers exist, and how
a stack picks its provider.

A kind is defined once, by a `Kind`: its app.yaml section and model, its link verbs, its
component, its runtime client, its mapping on each cloud (a `providers.base.Mapping`, which also
gives the kind's link properties and grants), its local link for `omnicloud dev`, and its
per-cloud checks. The built-in kinds (function, queue, topic, table, secret, schedule, http) are
`Kind` objects too (omnicloud/kinds.py), registered by the same `register_kind` call that an
installed package's entry point leads to.

Entry points (discovered once per process, never by anything a function imports at run time):

    [project.entry-points."omnicloud.kinds"]
    bucket = "acme_omnicloud.buckets:KIND"          # a Kind object; its name is the entry point's

    [project.entry-points."omnicloud.providers"]
    acme-azure = "acme_omnicloud.azure:AcmeAzure"   # a provider class (subclass of a built-in one)

A kind is added by installing its package. A provider is only used when a stack names it
(`omnicloud:provider: acme-azure`): installing a package never changes how an existing stack
deploys. Without that setting a stack uses the built-in provider of its `omnicloud:cloud`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from spec.loader import Problem, SourceMap
    from spec.model import AppSpec

KINDS_GROUP = "omnicloud.kinds"
PROVIDERS_GROUP = "omnicloud.providers"
CLOUDS = ("aws", "azure", "gcp")
# The built-in providers, one per cloud, imported lazily (an Azure stack never imports pulumi_aws).
BUILTIN_PROVIDERS = {
    "aws": "providers.aws:AwsProvider",
    "azure": "providers.azure:AzureProvider",
    "gcp": "providers.gcp:GcpProvider",
}


class RegistryError(Exception):
    """A kind or provider that cannot be used as given; the message is one line."""


@dataclass(frozen=True)
class Kind:
    """One kind of resource, defined once.

    `model` validates one resource's settings (the body under its name in `section`). A kind
    with `verbs` can be linked (`links: {name: [verb, ...]}`); its mapping on each cloud then
    gives the link's properties and grants. `mappings` name each cloud's `Mapping` class as
    "module:Class", imported only when a stack on that cloud builds the kind.
    """

    name: str
    model: type[BaseModel] | None = None
    section: str | None = None
    verbs: tuple[str, ...] = ()
    component: str | None = None
    client: str | None = None
    mappings: Mapping[str, str] = field(default_factory=dict)
    # (logical name, validated settings) -> the link's properties under `omnicloud dev` (what
    # the kind's local backend reads). None: the kind cannot be linked locally.
    local_link: Callable[[str, Any], dict[str, Any]] | None = None
    # (app, source map, cloud) -> problems: what `cloud` cannot do with this kind's resources.
    checks: Callable[[AppSpec, SourceMap, str], list[Problem]] | None = None
    # Holds data: prod stacks protect and retain it.
    stateful: bool = False
    # What each place under the section holds, for "expected X, got Y" messages: paths below
    # the section ("*" stands for any name) -> text. Missing ones are derived from the model.
    expected: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    # verb -> an extra hint when a function links this kind with that verb (it does not take it).
    verb_hints: Mapping[str, str] = field(default_factory=dict)
    # cloud -> fn(type, name, inputs) -> (id, outputs) or None: what the cloud would compute for
    # the kind's resources, so `omnicloud preview` shows real-looking ids (see omnicloud/mockstate).
    mock_state: Mapping[
        str, Callable[[str, str, dict[str, Any]], tuple[str, dict[str, Any]] | None]
    ] = field(default_factory=dict)

    @property
    def linkable(self) -> bool:
        return bool(self.verbs)

    @property
    def plural(self) -> str:
        return self.section or f"{self.name}s"

    def expected_texts(self) -> dict[tuple[str, ...], str]:
        """`expected` with the section and one resource's settings filled in when not given."""
        if not self.section:
            return {}
        texts = {
            (self.section,): f"a mapping of {self.name} name -> settings, e.g."
            f" `{self.section}: {{my-{self.name}: {{}}}}`"
        }
        if self.model is not None:
            texts[(self.section, "*")] = (
                f"a mapping of {self.name} settings ({', '.join(self.model.model_fields)}) or {{}}"
            )
        texts.update({(self.section, *path): text for path, text in self.expected.items()})
        return texts


def load(target: str) -> Any:
    """The object a "module:attribute" path names."""
    module_name, _, attribute = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split(".") if attribute else ():
        value = getattr(value, part)
    return value


class Registry:
    """Kinds by name, and providers by name; built-ins first, then installed packages."""

    def __init__(self) -> None:
        self.kinds: dict[str, Kind] = {}
        self.providers: dict[str, str | type] = dict(BUILTIN_PROVIDERS)
        self.origins: dict[str, str] = {}
        self._app_model: type | None = None

    # -- kinds ---------------------------------------------------------------------------------

    def register_kind(self, kind: Kind, origin: str = "omnicloud") -> None:
        """Add `kind`; a name or an app.yaml section already taken is an error naming both owners."""
        if not isinstance(kind, Kind):
            raise RegistryError(
                f"{origin}: {KINDS_GROUP} must name an omnicloud.registry.Kind, got {type(kind).__name__}"
            )
        if kind.name in self.kinds:
            raise RegistryError(
                f"{origin}: kind {kind.name!r} is already defined by {self.origins[kind.name]}"
            )
        taken = {k.section: k for k in self.kinds.values() if k.section}
        if kind.section and kind.section in taken:
            other = taken[kind.section]
            raise RegistryError(
                f"{origin}: app.yaml section {kind.section!r} is already kind {other.name!r}'s"
                f" ({self.origins[other.name]})"
            )
        for cloud in kind.mappings:
            if cloud not in CLOUDS:
                raise RegistryError(
                    f"{origin}: kind {kind.name!r} maps onto {cloud!r}; clouds are {', '.join(CLOUDS)}"
                )
        self.kinds[kind.name] = kind
        self.origins[kind.name] = origin
        self._app_model = None

    def kind(self, name: str) -> Kind:
        try:
            return self.kinds[name]
        except KeyError:
            raise RegistryError(
                f"no kind {name!r}{did_you_mean(name, list(self.kinds))}; kinds: {', '.join(self.kinds)}"
            ) from None

    def sections(self) -> dict[str, Kind]:
        """app.yaml section -> the kind declared there, in registration order (functions first)."""
        return {k.section: k for k in self.kinds.values() if k.section}

    def resource_kinds(self) -> list[Kind]:
        """Kinds declared in their own section and linked to by functions (not `function`)."""
        return [k for k in self.kinds.values() if k.section and k.linkable]

    def verbs(self) -> tuple[str, ...]:
        """Every link verb of every kind, each once: read and write (which most kinds take) first,
        then the others in registration order."""
        seen: dict[str, None] = dict.fromkeys(("read", "write"))
        for kind in self.kinds.values():
            seen.update(dict.fromkeys(kind.verbs))
        return tuple(v for v in seen if any(v in k.verbs for k in self.kinds.values()))

    def app_model(self) -> type[AppSpec]:
        """The pydantic model of app.yaml: `name`, `functions`, then each kind's section."""
        if self._app_model is None:
            from spec.model import app_model

            self._app_model = app_model(self.resource_kinds())
        return self._app_model

    # -- providers -----------------------------------------------------------------------------

    def register_provider(self, name: str, target: str | type, origin: str = "omnicloud") -> None:
        if name in self.providers:
            raise RegistryError(f"{origin}: provider {name!r} is already defined")
        self.providers[name] = target
        self.origins[f"provider:{name}"] = origin

    def provider_class(self, cloud: str, name: str | None = None) -> type:
        """The provider class a stack on `cloud` uses: `name` (omnicloud:provider) if given, else
        the cloud's built-in one. Only the chosen class's module is imported."""
        if cloud not in CLOUDS:
            raise RegistryError(
                f"unknown cloud {cloud!r}{did_you_mean(cloud, CLOUDS)}; use one of {', '.join(CLOUDS)}"
            )
        chosen = name or cloud
        if chosen not in self.providers:
            others = sorted(self.providers)
            raise RegistryError(
                f"omnicloud:provider: no provider {chosen!r}{did_you_mean(chosen, others)};"
                f" installed: {', '.join(others)} (a package adds one through the"
                f" {PROVIDERS_GROUP!r} entry point group)"
            )
        target = self.providers[chosen]
        try:
            cls = load(target) if isinstance(target, str) else target
        except (ImportError, AttributeError) as exc:
            raise RegistryError(
                f"provider {chosen!r} ({target}) cannot be imported: {exc}; reinstall the package"
                " that provides it"
            ) from None
        provider_cloud = getattr(cls, "cloud", None)
        if provider_cloud != cloud:
            raise RegistryError(
                f"omnicloud:provider: {chosen!r} deploys to {provider_cloud!r}, but omnicloud:cloud is"
                f" {cloud!r}; pick a provider for {cloud} or change the cloud"
            )
        return cls

    # -- discovery -----------------------------------------------------------------------------

    def discover(self) -> Registry:
        """Register the kinds and providers of every installed package (entry points)."""
        from importlib.metadata import entry_points

        installed = entry_points()  # one pass over the installed distributions for both groups
        for entry in sorted(installed.select(group=KINDS_GROUP), key=lambda e: e.name):
            origin = f"{_dist_name(entry)} ({KINDS_GROUP} {entry.name} = {entry.value})"
            try:
                kind = entry.load()
            except Exception as exc:  # noqa: BLE001 - any failure of a plugin's import is reported, in one line
                raise RegistryError(
                    f"{origin} cannot be loaded: {type(exc).__name__}: {exc}"
                ) from None
            if isinstance(kind, Kind) and kind.name != entry.name:
                raise RegistryError(
                    f"{origin}: the entry point is named {entry.name!r} but its kind is"
                    f" {kind.name!r}; name the entry point after the kind"
                )
            self.register_kind(kind, origin)
        for entry in sorted(installed.select(group=PROVIDERS_GROUP), key=lambda e: e.name):
            self.register_provider(
                entry.name, entry.value, f"{_dist_name(entry)} ({PROVIDERS_GROUP} {entry.name})"
            )
        return self


def _dist_name(entry: Any) -> str:
    dist = getattr(entry, "dist", None)
    return dist.name if dist is not None else "an installed package"


def did_you_mean(name: str, choices: list[str] | tuple[str, ...]) -> str:
    from spec.loader import did_you_mean as hint

    return hint(name, choices)


def builtin() -> Registry:
    """A registry of the built-in kinds and providers only (no installed packages)."""
    from omnicloud.kinds import BUILTIN_KINDS

    reg = Registry()
    for kind in BUILTIN_KINDS:
        reg.register_kind(kind)
    return reg


@functools.cache
def registry() -> Registry:
    """The process's registry: built-in kinds and providers, then every installed package's."""
    return builtin().discover()
