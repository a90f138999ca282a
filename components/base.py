"""What every omnicloud component shares: one type token on every cloud (omnicloud:index:<Kind>),
its provider passed in explicitly, the typed `nodes` its mapping made, and the `transform`
argument that edits one generated resource before it is created.

    Queue("jobs", {"max_retries": 5}, provider=provider,
          transform={"queue": lambda args, opts, name: args.update(message_retention_seconds=86400)})

A transform is `fn(args, opts, name)`: `args` are the keyword arguments of the generated
resource's class (pulumi_aws.sqs.Queue here), `opts` its ResourceOptions (a copy of its own) and
`name` its resource name; it changes `args` and `opts` in place. Its keys are the fields of the
mapping's `Nodes` (a key that is not one is an error naming them). For every resource of a type,
or of the whole stack, use Pulumi's own `transforms` resource option or
`pulumi.runtime.register_resource_transform` (docs/platform.md).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pulumi

if TYPE_CHECKING:
    from providers.base import Built, CloudProvider

R = TypeVar("R", bound=pulumi.Resource)
Transform = Callable[[dict[str, Any], pulumi.ResourceOptions, str], None]


class TransformError(pulumi.RunError):
    """A `transform` argument that names no node of the component; the message is one line."""


def check_transform(
    transform: Mapping[str, Transform] | None, nodes: type, where: str
) -> dict[str, Transform]:
    """`transform` after checking each key is a node of `nodes` and each value a function."""
    if not transform:
        return {}
    from spec.loader import did_you_mean

    names = [f.name for f in dataclasses.fields(nodes)] if dataclasses.is_dataclass(nodes) else []
    for key, fn in transform.items():
        if key not in names:
            listed = ", ".join(names) or "none"
            raise TransformError(
                f"{where}: transform key {key!r} is not one of its nodes{did_you_mean(key, names)};"
                f" nodes: {listed}"
            )
        if not callable(fn):
            raise TransformError(
                f"{where}: transform[{key!r}] is {type(fn).__name__}; give a function"
                " fn(args, opts, name) that changes args (and opts) in place"
            )
    return dict(transform)


class Component(pulumi.ComponentResource):
    """Base of every omnicloud component. Subclasses set `KIND` (the type token's name, e.g. Queue)
    and `kind` (the registry's name, e.g. queue)."""

    KIND: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    name: pulumi.Output[str]
    url: pulumi.Output[str] | None
    native: pulumi.Resource | None
    nodes: Any
    built: Built

    def __init__(
        self,
        logical: str,
        opts: pulumi.ResourceOptions | None = None,
        *,
        provider: CloudProvider,
        transform: Mapping[str, Transform] | None = None,
        nodes: type | None = None,
    ):
        if provider is None:
            raise TypeError(
                f"{type(self).__name__} {logical!r}: pass provider= (a providers.base.CloudProvider)"
            )
        super().__init__(f"omnicloud:index:{self.KIND}", logical, None, opts)
        self.logical = logical
        self.provider = provider
        self.mapping = provider.mapping(self.kind) if self.kind else None
        node_type = nodes if nodes is not None else (self.mapping.Nodes if self.mapping else None)
        where = f"{self.KIND} {logical!r} on {provider.cloud}"
        self._transform = check_transform(transform, node_type, where) if node_type else {}

    def node(
        self,
        key: str,
        cls: Callable[..., R],
        resource_name: str,
        opts: pulumi.ResourceOptions | None = None,
        /,
        **args: Any,
    ) -> R:
        """Create one generated resource (node `key`) as `cls(resource_name, **args, opts=opts)`,
        after this component's transform for `key`, if any. Children default to `parent=self`."""
        if opts is None:
            opts = pulumi.ResourceOptions(parent=self)
        fn = self._transform.get(key)
        if fn is None:
            return cls(resource_name, **args, opts=opts)
        opts = copy.copy(opts)  # a mapping may share one options object between nodes
        fn(args, opts, resource_name)
        try:
            return cls(resource_name, **args, opts=opts)
        except TypeError as exc:  # an argument the resource's class does not take
            raise TransformError(f"{self.KIND} {self.logical!r} on {self.provider.cloud}: the transform of node"
                                 f" {key!r} gives {getattr(cls, '__name__', cls)} {resource_name!r} what it does not"
                                 f" take: {exc}") from None

    def _finish(self, built: Built, extra_outputs: dict[str, Any] | None = None) -> None:
        self.built = built
        self.nodes = built.nodes
        self.native = built.native
        self.name = pulumi.Output.from_input(built.name)
        self.url = pulumi.Output.from_input(built.url) if built.url is not None else None
        outputs: dict[str, Any] = {"name": self.name}
        if self.url is not None:
            outputs["url"] = self.url
        outputs.update(extra_outputs or {})
        self.register_outputs(outputs)


class Resource(Component):
    """A declared resource of a linkable kind (queue, topic, table, secret, or a package's kind):
    its settings are validated by the kind's model, then built by the provider's mapping."""

    def __init__(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        provider: CloudProvider,
        transform: Mapping[str, Transform] | None = None,
    ):
        super().__init__(name, opts, provider=provider, transform=transform)
        model = provider.kinds.kind(self.kind).model
        spec = model(**(args or {}))  # validates, fills defaults
        self._finish(self.mapping.create(self, spec))
