"""The Pulumi program: stack config -> app.yaml -> components. `pulumi up` and `omnicloud preview`
both run exactly this."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pulumi

from providers.base import STACK_TAG_KEYS
from spec import SpecError, load_app_with_warnings
from spec.capabilities import CLOUDS, TAG_RULES
from spec.model import FunctionSpec, StackSettings, effective_visibility_timeout

# What a stack may override per function (omnicloud:functions.<name>.<setting>).
OVERRIDABLE = ("memory", "timeout", "min_instances", "max_instances", "reserved_concurrency", "architecture")
# Every omnicloud:* setting a stack file may hold (Pulumi.yaml declares the first three). The
# HTTP API's publisher fields are read by the Azure mapping (API Management requires them).
SETTINGS = ("cloud", "environment", "app", "functions", "tags", "provider", "publisher_name", "publisher_email",
            "azure_suffix", "azure_recover")
# Azure only: pin the names' suffix, and bring back what soft delete keeps (providers/azure).
AZURE_SETTINGS = ("azure_suffix", "azure_recover")
RECOVERABLE = ("key-vault", "api-management")


class StackConfigError(Exception):
    """A Pulumi.<stack>.yaml setting that cannot be used; the message is one line."""


def stack_config() -> dict[str, Any]:
    """Every config value of the running stack, `namespace:key` -> value, as the Pulumi CLI hands
    them to the program (objects as JSON text; `omnicloud preview` sets them the same way)."""
    from pulumi.runtime.config import CONFIG, get_config_env

    return {**get_config_env(), **CONFIG.get()}


def _object(value: Any, where: str, key: str, what: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise StackConfigError(f"{where}: omnicloud:{key} must be {what}, got the text {value!r}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StackConfigError(f"{where}: omnicloud:{key} must be {what}")
    return value


def settings_from_config(config: dict[str, Any], where: str) -> StackSettings:
    """StackSettings from a stack's config (`namespace:key` -> value, as Pulumi or a stack file holds
    them): the one place `pulumi up` and `omnicloud preview` read omnicloud's settings."""
    from spec.capabilities import tag_problem
    from spec.loader import did_you_mean

    values = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("omnicloud:")}
    if "cloud" not in values:
        raise StackConfigError(f"{where}: omnicloud:cloud is not set; run `pulumi config set omnicloud:cloud aws|azure|gcp`")
    if values["cloud"] not in CLOUDS:
        hint = did_you_mean(str(values["cloud"]), CLOUDS)
        raise StackConfigError(f"{where}: omnicloud:cloud is {values['cloud']!r}; use aws, azure or gcp{hint}")
    cloud = values["cloud"]
    if values.get("environment", "dev") not in ("dev", "prod"):
        raise StackConfigError(f"{where}: omnicloud:environment is {values['environment']!r}; use dev or prod")
    functions = _object(values.get("functions"), where, "functions", "a mapping of function name -> settings")
    for fname, override in functions.items():
        if not isinstance(override, dict):
            raise StackConfigError(f"{where}: omnicloud:functions.{fname} must be a mapping of {', '.join(OVERRIDABLE)}")
        for setting in override:
            if setting not in OVERRIDABLE:
                raise StackConfigError(
                    f"{where}: omnicloud:functions.{fname}.{setting} cannot be set per stack"
                    f"{did_you_mean(setting, OVERRIDABLE)}; a stack may set {', '.join(OVERRIDABLE)}")
    values["functions"] = functions
    tags = _object(values.get("tags"), where, "tags", "a mapping of tag name -> value, e.g. {cost-center: cc-1234}")
    for key, value in tags.items():
        if not isinstance(value, str):
            raise StackConfigError(f"{where}: omnicloud:tags.{key} is {value!r}; tag values are text, quote it")
        if key in STACK_TAG_KEYS:
            raise StackConfigError(f"{where}: omnicloud:tags.{key}: omnicloud sets this tag itself; choose another name")
        problem = tag_problem(cloud, key, value)
        if problem:
            raise StackConfigError(f"{where}: omnicloud:tags.{key}: on {cloud}: {problem}")
    limit = TAG_RULES[cloud].count_max
    if len(tags) + len(STACK_TAG_KEYS) > limit:
        raise StackConfigError(f"{where}: omnicloud:tags has {len(tags)} tags; with omnicloud's own {len(STACK_TAG_KEYS)}"
                               f" that is over the {limit} per resource {cloud} allows ({TAG_RULES[cloud].source})")
    values["tags"] = tags
    _check_azure_settings(values, cloud, where)
    return StackSettings(**{k: v for k, v in values.items() if k in StackSettings.model_fields})


def azure_recover_items(value: Any) -> Any:
    """omnicloud:azure_recover as a list: YAML's list arrives as JSON text, one item may be bare."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return [value]
    return value


def _check_azure_settings(values: dict[str, Any], cloud: str, where: str) -> None:
    """omnicloud:azure_suffix / azure_recover: what a stack sets to bring back a soft-deleted Key
    Vault or API Management service under its old name (README, "Azure names")."""
    import re

    from spec.loader import did_you_mean

    for key in AZURE_SETTINGS:
        if key in values and cloud != "azure":
            raise StackConfigError(f"{where}: omnicloud:{key} applies to Azure stacks only; this stack deploys to {cloud}")
    suffix = values.get("azure_suffix")
    if suffix is not None and not (isinstance(suffix, str) and re.fullmatch(r"[a-z0-9]{8}", suffix)):
        raise StackConfigError(f"{where}: omnicloud:azure_suffix is {suffix!r}; it is the 8 lowercase letters and digits"
                               " the names of the deployment to recover end in (agents-k3x9q2mz: k3x9q2mz)")
    if "azure_recover" not in values:
        return
    recover = azure_recover_items(values["azure_recover"])
    if not isinstance(recover, list) or not recover:
        raise StackConfigError(f"{where}: omnicloud:azure_recover must be a list of {', '.join(RECOVERABLE)}")
    for item in recover:
        if item not in RECOVERABLE:
            raise StackConfigError(f"{where}: omnicloud:azure_recover: {item!r} cannot be recovered; use"
                                   f" {', '.join(RECOVERABLE)}{did_you_mean(str(item), RECOVERABLE)}")
    if suffix is None:
        raise StackConfigError(f"{where}: omnicloud:azure_recover needs omnicloud:azure_suffix, the 8 characters the"
                               " deleted resources' names end in, so they are named as they were")


def unknown_settings(config: dict[str, Any], where: str, *, project: str, secrets: Iterable[str]) -> None:
    """StackConfigError for an `omnicloud:*` key that means nothing, with a did-you-mean. A project
    named omnicloud keeps its secrets in the same namespace (`pulumi config set --secret jwt-secret`
    writes omnicloud:jwt-secret): the app's declared secrets are known keys there."""
    from spec.loader import did_you_mean

    known = [*SETTINGS, *(secrets if project == "omnicloud" else ())]
    for key in sorted(config):
        name = key.split(":", 1)[1] if key.startswith("omnicloud:") else None
        if name is not None and name not in known:
            raise StackConfigError(f"{where}: omnicloud:{name} is not a setting{did_you_mean(name, known)};"
                                   f" settings: {', '.join(SETTINGS)}")


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
    """An override passes the same cloud limits app.yaml does (spec.checks.function_limits), and a
    consumer may not outlive its queue's visibility timeout."""
    from spec.checks import function_limits

    field = f"{where}: omnicloud:functions.{fname}"
    for setting, message in function_limits(fn, cloud):
        raise StackConfigError(f"{field}.{setting}: on {cloud}: {message}")
    queue = app.section("queue").get(fn.queue.name) if fn.queue else None
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
            for name in app.section("secret") if not has_secret(name)]


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
                        environment=settings.environment, overrides=settings.functions, extra_tags=settings.tags)
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


def main(*, transform: dict[str, Any] | None = None, opts: pulumi.ResourceOptions | None = None):
    """The program `__main__.py` runs, under `pulumi up` and `omnicloud preview` alike: the stack's
    config -> app.yaml -> the App on the stack's provider. Returns the App.

    `transform` and `opts` are the App's (see components.App): a team's `__main__.py` changes one
    generated resource with `main(transform={"events": {"topic": fn}})`, or every resource with
    `opts=pulumi.ResourceOptions(transforms=[fn])` or `pulumi.runtime.register_resource_transform`.
    """
    from omnicloud.registry import RegistryError

    stack = pulumi.get_stack()
    where = f"Pulumi.{stack}.yaml"
    config = stack_config()
    try:
        settings = settings_from_config(config, where)
        ctx, _ = build_context(Path(os.getcwd()), settings, stack)
        unknown_settings(config, where, project=pulumi.get_project(), secrets=ctx.app.section("secret"))
        return define(ctx, settings.provider, transform=transform, opts=opts)
    except (SpecError, StackConfigError, RegistryError) as exc:
        raise pulumi.RunError(str(exc)) from None
