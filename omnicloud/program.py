"""The Pulumi program: stack config -> app.yaml -> components. `pulumi up` and `omnicloud preview`
both run exactly this."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

from spec import SpecError, load_app_with_warnings
from spec.capabilities import CLOUDS, LIMITS, timeout_limit
from spec.model import FunctionSpec, StackSettings, effective_visibility_timeout

OVERRIDABLE = ("memory", "timeout", "min_instances", "architecture")


class StackConfigError(Exception):
    """A Pulumi.<stack>.yaml setting that cannot be used; the message is one line."""


def settings_from_config(config: dict[str, Any], where: str) -> StackSettings:
    """StackSettings from `omnicloud:*` config values (as Pulumi or a stack file holds them)."""
    values = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("omnicloud:")}
    if "cloud" not in values:
        raise StackConfigError(f"{where}: omnicloud:cloud is not set; run `pulumi config set omnicloud:cloud aws|azure|gcp`")
    if values["cloud"] not in ("aws", "azure", "gcp"):
        raise StackConfigError(f"{where}: omnicloud:cloud is {values['cloud']!r}; use aws, azure or gcp")
    if values.get("environment", "dev") not in ("dev", "prod"):
        raise StackConfigError(f"{where}: omnicloud:environment is {values['environment']!r}; use dev or prod")
    functions = values.get("functions") or {}
    if isinstance(functions, str):
        import json

        functions = json.loads(functions)
    if not isinstance(functions, dict):
        raise StackConfigError(f"{where}: omnicloud:functions must map function names to settings")
    for fname, override in functions.items():
        if not isinstance(override, dict):
            raise StackConfigError(f"{where}: omnicloud:functions.{fname} must be a mapping of {', '.join(OVERRIDABLE)}")
        unknown = sorted(set(override) - set(OVERRIDABLE))
        if unknown:
            raise StackConfigError(
                f"{where}: omnicloud:functions.{fname}: {', '.join(unknown)} cannot be set per stack; use {', '.join(OVERRIDABLE)}")
    values["functions"] = functions
    return StackSettings(**{k: v for k, v in values.items() if k in StackSettings.model_fields})


def apply_overrides(app, settings: StackSettings, where: str):
    """The app with the stack's per-function overrides applied (and checked)."""
    from pydantic import ValidationError

    functions = dict(app.functions)
    for fname, override in settings.functions.items():
        if fname not in app.functions:
            raise StackConfigError(f"{where}: omnicloud:functions.{fname}: no function {fname!r} in app.yaml")
        try:
            functions[fname] = FunctionSpec.model_validate(
                {**app.functions[fname].model_dump(exclude_none=True), **override})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise StackConfigError(
                f"{where}: omnicloud:functions.{fname}.{'.'.join(map(str, first['loc']))}: {first['msg']},"
                f" got {first.get('input')!r}") from None
        if settings.cloud in CLOUDS:
            _check_override(fname, functions[fname], app, settings.cloud, where)
    app = app.model_copy(update={"functions": functions})
    # Each queue as deployed: an unset visibility timeout is 6 x its consumer's (overridden) timeout.
    queues = {name: queue.model_copy(update={"visibility_timeout": app.visibility_timeout_of(name)})
              for name, queue in app.section("queue").items()}
    return app.model_copy(update={"queues": queues})


def _check_override(fname: str, fn: FunctionSpec, app, cloud: str, where: str) -> None:
    """An override passes the same cloud limits app.yaml does (memory, timeout, consumer vs queue)."""
    lim = LIMITS[cloud]
    field = f"{where}: omnicloud:functions.{fname}"
    if fn.memory > lim.memory_max:
        raise StackConfigError(f"{field}.memory: on {cloud}: memory {fn.memory} MB exceeds {lim.function_service}'s"
                               f" largest size, {lim.memory_max} MB; use at most {lim.memory_max}")
    limit, why = timeout_limit(cloud, fn.trigger)
    if fn.timeout > limit:
        raise StackConfigError(f"{field}.timeout: on {cloud}: timeout {fn.timeout}s exceeds {limit}s for"
                               f" {'an' if fn.trigger == 'http' else 'a'} {fn.trigger} function ({why});"
                               f" use at most {limit}")
    queue = app.queues.get(fn.queue.name) if fn.queue else None
    visibility = effective_visibility_timeout(queue, fn.timeout) if queue is not None else None
    if visibility is not None and visibility < fn.timeout:
        raise StackConfigError(f"{field}.timeout: timeout {fn.timeout}s is longer than queue {fn.queue.name!r}'s"
                               f" visibility_timeout {visibility}s, so a message would be delivered"
                               f" again while still being handled; raise visibility_timeout in app.yaml or lower"
                               f" the timeout")


def secret_warnings(app, stack: str, has_secret: Callable[[str], bool]) -> list[str]:
    """One warning per declared secret the stack holds no value for, the same on every cloud:
    the secret is still created (so grants and preview work), but reading it fails until set."""
    return [f"Pulumi.{stack}.yaml: warning: secret {name!r} has no value on stack {stack}; set it with"
            f" `pulumi config set --secret {name} <value>` (until then the function reading it fails)"
            for name in app.secrets if not has_secret(name)]


def build_context(project_dir: Path, settings: StackSettings, stack: str, *, package: bool = True,
                  log_warnings: bool = True, has_secret: Callable[[str], bool] | None = None):
    """Validate app.yaml for the stack's cloud and package its code: everything before resources.

    Returns the context and every warning (app.yaml's, then the stack's); `has_secret(name)`
    says whether the stack holds a value for a secret (default: Pulumi's config).
    """
    from providers.base import DeployContext

    app_path = (project_dir / settings.app).resolve()
    app, app_warnings = load_app_with_warnings(app_path, cloud=settings.cloud)
    if has_secret is None:
        def has_secret(name: str) -> bool:
            return pulumi.Config().get_secret(name) is not None

    warnings = [*map(str, app_warnings), *secret_warnings(app, stack, has_secret)]
    if log_warnings:
        for warning in warnings:
            pulumi.log.warn(warning)
    app = apply_overrides(app, settings, f"Pulumi.{stack}.yaml")
    ctx = DeployContext(app=app, app_dir=app_path.parent, cloud=settings.cloud, stack=stack,
                        environment=settings.environment, overrides=settings.functions)
    if package:
        from omnicloud.bundle import build_artifacts

        ctx.artifacts = build_artifacts(app, app_path.parent, settings.cloud)
    return ctx, warnings


def define(ctx, provider_name: str | None = None, **app_options):
    """Register the app's resources (as an App on the stack's provider) and export its neutral
    outputs; returns the App. `app_options` are the App's `opts` and `transform`."""
    from components import App
    from omnicloud.registry import registry

    provider = registry().provider_class(ctx.cloud, provider_name)(ctx)
    app = App(ctx.app.name, {"context": ctx}, provider=provider, **app_options)
    pulumi.export("cloud", ctx.cloud)
    pulumi.export("environment", ctx.environment)
    if app.url is not None:
        pulumi.export("url", app.url)
    pulumi.export("functions", {name: fn.name for name, fn in app.functions.items()})
    return app


def main() -> None:
    """Entry point of __main__.py under the Pulumi CLI."""
    config = pulumi.Config("omnicloud")
    raw = {f"omnicloud:{key}": config.get(key) for key in ("cloud", "environment", "app")}
    functions = config.get_object("functions")
    if functions is not None:
        raw["omnicloud:functions"] = functions
    raw = {k: v for k, v in raw.items() if v is not None}
    stack = pulumi.get_stack()
    project_dir = Path(os.getcwd())
    try:
        settings = settings_from_config(raw, f"Pulumi.{stack}.yaml")
        ctx, _ = build_context(project_dir, settings, stack)
    except (SpecError, StackConfigError) as exc:
        raise pulumi.RunError(str(exc)) from None
    define(ctx)
