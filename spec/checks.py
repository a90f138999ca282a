"""Cross-checks that need the whole app: references, verbs, handlers, and each cloud's limits."""

from __future__ import annotations

import json
import math
from pathlib import Path

from runtime.links import env_name, link_value

from .capabilities import (
    AWS_ENV_BYTES_MAX,
    AWS_LINK_KEYS,
    CLOUDS,
    LIMITS,
    aws_link_estimate,
    round_memory,
    timeout_limit,
)
from .loader import Problem, SourceMap, did_you_mean
from .model import VISIBILITY_PER_TIMEOUT, VISIBILITY_TIMEOUT_MAX, AppSpec, QueueSpec, TopicTrigger
from .schedule import ScheduleError, parse_schedule


def _registry():
    from omnicloud.registry import registry

    return registry()


def cross_check(
    spec: AppSpec, source: SourceMap, *, app_dir: Path, cloud: str | None, check_handlers: bool = True
) -> list[Problem]:
    problems: list[Problem] = []
    problems += _unique_names(spec, source)
    problems += _references(spec, source)
    problems += _schedules(spec, source)
    problems += _http_prefixes(spec, source)
    problems += _queues(spec, source)
    if check_handlers:
        problems += _handlers(spec, source, app_dir)
    problems += merge_clouds([p for name in ([cloud] if cloud else CLOUDS) for p in cloud_problems(spec, source, name)])
    return problems


def merge_clouds(problems: list[Problem]) -> list[Problem]:
    """`on azure: X` and `on gcp: X` at the same place become one `on azure and gcp: X` line."""
    groups: dict[tuple, list[str]] = {}
    for p in problems:
        cloud, _, rest = p.message.removeprefix("on ").partition(": ")
        groups.setdefault((p.file, p.line, p.col, p.field, p.severity, rest), []).append(cloud)
    merged = []
    for (file, line, col, fld, severity, rest), clouds in groups.items():
        names = " and ".join([", ".join(clouds[:-1]), clouds[-1]] if len(clouds) > 1 else clouds)
        merged.append(Problem(file, line, col, fld, f"on {names}: {rest}", severity))
    return merged


def _unique_names(spec: AppSpec, source: SourceMap) -> list[Problem]:
    problems = []
    first_seen: dict[str, str] = {}
    for group, kind in _registry().sections().items():
        for name in spec.section(kind.name):
            if name in first_seen:
                line, _ = source.locate((first_seen[name], name), at_key=True)
                problems.append(source.problem(
                    (group, name),
                    f"name {name!r} is already used under {first_seen[name]} (line {line});"
                    " resource names are unique across kinds, rename one", at_key=True))
            else:
                first_seen[name] = group
    return problems


def _declared(spec: AppSpec) -> list[str]:
    return [n for kind in _registry().resource_kinds() for n in spec.section(kind.name)]


def _references(spec: AppSpec, source: SourceMap) -> list[Problem]:
    problems = []
    kinds = _registry()
    for fname, fn in spec.functions.items():
        for kind, trigger in (("queue", fn.queue), ("topic", fn.topic)):
            plural = kinds.kind(kind).plural
            if trigger is None or trigger.name in spec.section(kind):
                continue
            loc = ("functions", fname, kind, "name")
            if loc not in source.values:
                loc = ("functions", fname, kind)
            actual = spec.kind_of(trigger.name)
            if actual:
                other = "topic" if kind == "queue" else "queue"
                hint = f"; to be triggered by it use `{other}: {trigger.name}`" if actual == other else ""
                msg = f"{trigger.name!r} is a {actual}, not a {kind}{hint}"
            else:
                declared = list(spec.section(kind))
                hint = did_you_mean(trigger.name, declared)
                if not hint:
                    hint = (f"; declared {plural}: {', '.join(declared)}" if declared
                            else f"; declare it: `{plural}: {{{trigger.name}: {{}}}}`")
                msg = f"{kind} {trigger.name!r} is not declared under {plural}{hint}"
            problems.append(source.problem(loc, msg))
        for target, verbs in fn.links.items():
            loc = ("functions", fname, "links", target)
            kind = spec.kind_of(target)
            if kind is None:
                declared = _declared(spec)
                hint = did_you_mean(target, declared) or (
                    f"; declared: {', '.join(declared)}" if declared else f"; declare it under {_linkable_sections()}")
                problems.append(source.problem(loc, f"link to {target!r}, which is not declared{hint}", at_key=True))
                continue
            if kind == "function":
                problems.append(source.problem(
                    loc, f"{target!r} is a function; links grant access to {_linkable_sections('and')}"
                         " (to call a function, send to a queue it consumes)", at_key=True))
                continue
            definition = kinds.kind(kind)
            allowed = definition.verbs
            for i, verb in enumerate(verbs):
                if verb not in allowed:
                    problems.append(source.problem(
                        (*loc, i), f"verb {verb!r} does not apply to {kind} {target!r}; a {kind} takes"
                                   f" {' or '.join(allowed)}{definition.verb_hints.get(verb, '')}"))
    return problems


def _linkable_sections(last: str = "or") -> str:
    sections = [kind.plural for kind in _registry().resource_kinds()]
    return ", ".join(sections[:-1]) + f" {last} {sections[-1]}" if len(sections) > 1 else "".join(sections)


def _schedules(spec: AppSpec, source: SourceMap) -> list[Problem]:
    problems = []
    for fname, fn in spec.functions.items():
        if fn.schedule is None:
            continue
        try:
            parse_schedule(fn.schedule)
        except ScheduleError as exc:
            problems.append(source.problem(("functions", fname, "schedule"), str(exc)))
    return problems


def _http_prefixes(spec: AppSpec, source: SourceMap) -> list[Problem]:
    problems = []
    owner: dict[str, str] = {}
    for fname, fn in spec.functions.items():
        if fn.http is None:
            continue
        if fn.http in owner:
            problems.append(source.problem(
                ("functions", fname, "http"),
                f"http prefix {fn.http!r} is already served by function {owner[fn.http]!r};"
                " give each function its own prefix (e.g. /api and /admin)"))
        owner.setdefault(fn.http, fname)
    return problems


def _queues(spec: AppSpec, source: SourceMap) -> list[Problem]:
    problems = []
    for qname in spec.queues:
        consumers = spec.consumers_of_queue(qname)
        for extra in consumers[1:]:
            problems.append(source.problem(
                ("functions", extra, "queue"),
                f"queue {qname!r} already has consumer {consumers[0]!r}; a queue has one consumer"
                " (use a topic to fan out to several functions)"))
        if not consumers:
            problems.append(source.problem(
                ("queues", qname), f"no function consumes queue {qname!r}; add one with `queue: {qname}`"
                " (on gcp, a queue without a consumer has no subscription and drops what is sent)",
                at_key=True, severity="warning"))
        for consumer in consumers[:1]:
            timeout = spec.functions[consumer].timeout
            visibility = spec.visibility_timeout_of(qname)
            if visibility < timeout:
                loc = ("queues", qname, "visibility_timeout")
                problems.append(source.problem(
                    loc if loc in source.values else ("queues", qname),
                    f"visibility_timeout {visibility}s is shorter than consumer {consumer!r}'s timeout"
                    f" {timeout}s, so a message would be delivered again while still being handled;"
                    f" set it to at least {timeout} (6 x {timeout} = {6 * timeout} is the usual advice)",
                    at_key=loc not in source.values))
    return problems


# ---------------------------------------------------------------------------------------------
# Handlers: found and checked by parsing the module, never by running it.


def _handlers(spec: AppSpec, source: SourceMap, app_dir: Path) -> list[Problem]:
    problems = []
    for fname, fn in spec.functions.items():
        module, _, attr = fn.handler.partition(":")
        loc = ("functions", fname, "handler")
        where = _module_file(app_dir, module)
        if where is None:
            problems.append(source.problem(loc, _missing_module(app_dir, module)))
            continue
        rel = where.relative_to(app_dir).as_posix()
        names, error = _top_level_names(where, app_dir)
        if error:
            problems.append(source.problem(loc, f"{rel}{error}"))
        elif names is not None and attr not in names:
            hint = did_you_mean(attr, sorted(names)) or (
                f"; it defines {', '.join(sorted(n for n in names if not n.startswith('_'))[:8])}" if names else "")
            problems.append(source.problem(loc, f"{rel} defines no {attr!r} at top level{hint}"))
    return problems


def _module_file(app_dir: Path, module: str) -> Path | None:
    base = app_dir.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _missing_module(app_dir: Path, module: str) -> str:
    parts = module.split(".")
    rel = "/".join(parts)
    message = f"module {module!r} not found: expected {rel}.py or {rel}/__init__.py next to the app.yaml"
    parent = app_dir.joinpath(*parts[:-1])
    if parent.is_dir():
        siblings = [p.stem for p in parent.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()]
        guess = did_you_mean(parts[-1], siblings)
        if guess:
            name = guess.split("'")[1]
            message += f"; did you mean {'.'.join([*parts[:-1], name])!r}?"
    elif len(parts) > 1:
        message += f" (there is no {'/'.join(parts[:-1])}/ directory there)"
    return message


def _top_level_names(path: Path, app_dir: Path) -> tuple[set[str] | None, str | None]:
    """Names a module binds at top level, found by parsing it (its code is not run; the parse is
    the one the package checks share, kept in the build cache by content: omnicloud.sources).

    Returns (None, None) when the module can bind names dynamically (star import, __getattr__).
    """
    from omnicloud.sources import cache_dir_for, module_facts

    try:
        facts = module_facts(path, cache_dir_for(app_dir))
    except OSError as exc:
        return None, f": cannot read ({exc})"
    error = facts.error
    if error is None:
        return (None if facts.top_level is None else set(facts.top_level)), None
    if error.kind == "syntax":
        where = f":{error.line}" + (f":{error.offset}" if error.offset else "") if error.line else ""
        return None, f"{where}: syntax error: {error.message}; fix it (the module is parsed, not run)"
    if error.kind == "read":
        return None, f": cannot read ({error.message})"
    return None, f": cannot be parsed ({error.message})"


# ---------------------------------------------------------------------------------------------
# Per-cloud limits.


def cloud_problems(spec: AppSpec, source: SourceMap, cloud: str) -> list[Problem]:
    """What `cloud` cannot do for this spec: errors name the cloud, the feature and the alternative.
    Each kind checks its own resources (omnicloud.registry.Kind.checks)."""
    report = _Report(source, cloud)
    if cloud == "gcp" and spec.name.startswith("goog"):
        report.err(("name",), "Pub/Sub names may not start with 'goog', and every name starts with the app name;"
                              " rename the app")
    problems = report.problems
    for kind in _registry().kinds.values():
        if kind.checks is not None:
            problems += kind.checks(spec, source, cloud)
    return problems


class _Report:
    """Problems of one cloud, each message prefixed `on <cloud>: `."""

    def __init__(self, source: SourceMap, cloud: str):
        self.source = source
        self.cloud = cloud
        self.problems: list[Problem] = []

    def err(self, loc, message, *, at_key=False):
        self.problems.append(self.source.problem(loc, f"on {self.cloud}: {message}", at_key=at_key))

    def warn(self, loc, message, *, at_key=False):
        self.problems.append(self.source.problem(loc, f"on {self.cloud}: {message}", at_key=at_key,
                                                 severity="warning"))

    def where(self, *loc):
        return loc if loc in self.source.values else loc[:-1]


def function_limits(fn, cloud: str) -> list[tuple[str, str]]:
    """(setting, message) for each limit of `cloud` that function settings `fn` exceed: what
    app.yaml and a stack's per-function overrides are both held to."""
    lim = LIMITS[cloud]
    found: list[tuple[str, str]] = []
    if fn.memory > lim.memory_max:
        found.append(("memory", f"memory {fn.memory} MB exceeds {lim.function_service}'s largest size,"
                                f" {lim.memory_max} MB; use at most {lim.memory_max}"))
    limit, why = timeout_limit(cloud, fn.trigger)
    if fn.timeout > limit:
        alternative = lim.timeout_alternative if fn.trigger == "http" else f"use at most {limit}, or {lim.timeout_alternative}"
        article = "an" if fn.trigger == "http" else "a"
        found.append(("timeout", f"timeout {fn.timeout}s exceeds {limit}s for {article} {fn.trigger} function"
                                 f" ({why}); {alternative}"))
    for setting in ("max_instances", "reserved_concurrency"):
        value = getattr(fn, setting)
        if value is None:
            continue
        allowed = lim.concurrency[setting]
        if isinstance(allowed, str):
            found.append((setting, f"{setting} has no equivalent on {lim.function_service}: {allowed}"))
        elif not allowed[0] <= value <= allowed[1]:
            found.append((setting, f"{setting} {value} is outside {allowed[0]}..{allowed[1]}"
                                   f" ({lim.concurrency_rule[setting]}); use a value in that range"))
        elif fn.min_instances > value:
            found.append((setting, f"{setting} {value} is below min_instances {fn.min_instances}"
                                   f" ({lim.concurrency_rule[setting]}); keep fewer instances warm or raise it"))
    return found


def function_problems(spec: AppSpec, source: SourceMap, cloud: str) -> list[Problem]:
    lim = LIMITS[cloud]
    report = _Report(source, cloud)
    err, warn, where = report.err, report.warn, report.where
    problems = report.problems
    app = spec.name
    for fname, fn in spec.functions.items():
        base = ("functions", fname)
        for setting, message in function_limits(fn, cloud):
            err(where(*base, setting), message)
        if fn.memory <= lim.memory_max and "memory" in fn.model_fields_set and round_memory(cloud, fn.memory) != fn.memory:
            sizes = ", ".join(map(str, lim.memory_steps or ()))
            warn(where(*base, "memory"), f"memory {fn.memory} MB becomes {round_memory(cloud, fn.memory)} MB"
                 f" ({lim.function_service} offers {sizes} MB)")
        for key in fn.env:
            if lim.reserved_env_name(key):
                err((*base, "env", key), f"env name {key!r} is reserved ({lim.function_service} or omnicloud sets it);"
                    f" rename it, e.g. APP_{key.lstrip('_').upper()}", at_key=True)
        physical = f"{app}-{fname}"
        if len(physical) > lim.function_name_max:
            err(base, f"function name '{physical}' is {len(physical)} characters, over {lim.function_name_max}"
                f" ({lim.function_name_rule}); shorten the app or function name", at_key=True)
        if cloud == "azure" and fn.queue and 1 < fn.queue.batch_size <= lim.batch_size_max:
            warn(where(*base, "queue", "batch_size"), f"batch_size {fn.queue.batch_size} becomes 1 (the Service Bus"
                 " trigger hands the function one message per invocation; messages still run concurrently)")
        if fn.queue and fn.queue.batch_size > lim.batch_size_max:
            loc = where(*base, "queue", "batch_size")
            if cloud == "gcp":
                warn(loc, f"batch_size {fn.queue.batch_size} becomes 1 ({lim.batch_rule})")
            else:
                err(loc, f"batch_size {fn.queue.batch_size} exceeds {lim.batch_size_max} ({lim.batch_rule});"
                    f" use at most {lim.batch_size_max}")
        if cloud == "aws":
            size = aws_env_bytes(spec, fname)
            if size > AWS_ENV_BYTES_MAX:
                err(base, f"function {fname!r}'s environment would take about {size} bytes (its env and"
                    f" {len(fn.links)} links), over Lambda's {AWS_ENV_BYTES_MAX} bytes for all environment"
                    " variables together; link fewer resources or shorten env values (a long value can"
                    " live in a secret)", at_key=True)
        if fn.topic:
            problems += _subscription(spec, source, cloud, fname)
        if fn.schedule:
            problems += _schedule_on(source, cloud, base, fn.schedule)
    return problems


def queue_problems(spec: AppSpec, source: SourceMap, cloud: str) -> list[Problem]:
    lim = LIMITS[cloud]
    report = _Report(source, cloud)
    err, warn, where = report.err, report.warn, report.where
    for qname, queue in spec.section("queue").items():
        base = ("queues", qname)
        physical = f"{spec.name}-{qname}"
        if len(physical) > lim.queue_name_max:
            err(base, f"queue name '{physical}' is {len(physical)} characters, over {lim.queue_name_max}"
                f" ({lim.queue_name_rule}); shorten it", at_key=True)
        _retries(report, where(*base, "max_retries"), queue)
        if "visibility_timeout" in queue.model_fields_set and queue.visibility_timeout > lim.visibility_timeout_max:
            warn(where(*base, "visibility_timeout"), f"visibility_timeout {queue.visibility_timeout}s is capped at"
                 f" {lim.visibility_timeout_max}s ({lim.visibility_rule})")
        consumers = spec.consumers_of_queue(qname)
        if cloud == "aws" and consumers and "visibility_timeout" in queue.model_fields_set:
            timeout = spec.functions[consumers[0]].timeout
            advised = min(VISIBILITY_PER_TIMEOUT * timeout, VISIBILITY_TIMEOUT_MAX)
            if timeout <= queue.visibility_timeout < advised:
                # docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html: at least six times
                # the function timeout, so Lambda can retry a throttled batch.
                warn(where(*base, "visibility_timeout"), f"visibility_timeout {queue.visibility_timeout}s is less than"
                     f" 6 x consumer {consumers[0]!r}'s timeout {timeout}s; AWS advises at least {advised}s so Lambda"
                     " can retry a throttled batch before the message reappears; raise it, or leave it unset"
                     f" (the default is {advised})")
    return report.problems


def _retries(report: _Report, loc: tuple, settings: QueueSpec | TopicTrigger) -> None:
    """A queue's or a topic subscriber's max_retries against the range its cloud takes: an error
    above it; a warning when the cloud raises it (Pub/Sub dead-letters after 5 attempts at least)."""
    lim = LIMITS[report.cloud]
    retries = settings.max_retries
    if retries > lim.max_retries_max:
        report.err(loc, f"max_retries {retries} exceeds {lim.max_retries_max} ({lim.max_retries_rule});"
                   f" use 0 to {lim.max_retries_max}")
    elif retries + 1 < lim.min_deliveries and "max_retries" in settings.model_fields_set:
        report.warn(loc, f"max_retries {retries} becomes {lim.min_deliveries - 1} (Pub/Sub dead-lettering"
                    f" needs at least {lim.min_deliveries} delivery attempts)")


def topic_problems(spec: AppSpec, source: SourceMap, cloud: str) -> list[Problem]:
    lim = LIMITS[cloud]
    report = _Report(source, cloud)
    for tname in spec.section("topic"):
        physical = f"{spec.name}-{tname}"
        if len(physical) > lim.topic_name_max:
            report.err(("topics", tname), f"topic name '{physical}' is {len(physical)} characters, over"
                       f" {lim.topic_name_max} ({lim.topic_name_rule}); shorten it", at_key=True)
    return report.problems


def table_problems(spec: AppSpec, source: SourceMap, cloud: str) -> list[Problem]:
    lim = LIMITS[cloud]
    report = _Report(source, cloud)
    for tname, table in spec.section("table").items():
        if cloud == "azure" and table.ttl:
            report.warn(("tables", tname, "ttl"), "Storage and Cosmos DB tables have no per-item expiry: expired"
                        " items are hidden on every read but stay stored until deleted (delete them from a"
                        " scheduled function)")
        physical = f"{spec.name}-{tname}".replace("-", "") if cloud == "azure" else f"{spec.name}-{tname}"
        if len(physical) > lim.table_name_max:
            report.err(("tables", tname), f"table name '{physical}' is {len(physical)} characters, over"
                       f" {lim.table_name_max} ({lim.table_name_rule}); shorten the app or table name", at_key=True)
    return report.problems


# The stand-in size of a package kind's link properties on AWS (see aws_env_bytes).
OTHER_KIND_LINK_BYTES = 200


def aws_env_bytes(spec: AppSpec, fname: str) -> int:
    """What Lambda will measure of function `fname`'s environment: the compact JSON of every
    variable, links encoded exactly as the provider encodes them (deploy-time parts stood in for
    by the longest values they can take)."""
    fn = spec.functions[fname]
    env = fn.runtime_env(fname, "aws")
    kinds = _registry()
    for target, verbs in fn.links.items():
        kind = spec.kind_of(target)
        if kind is None or kind == "function":
            continue  # reported by _references
        if kind not in AWS_LINK_KEYS:
            # A package's kind: its mapping's properties are not known here; stand in an ARN-sized
            # value per property it could send (a bucket's is one name, so this over-counts).
            props = {"arn": "x" * OTHER_KIND_LINK_BYTES} if kinds.kinds.get(kind) else {}
            env[env_name(target)] = link_value(kind, verbs, props)
            continue
        table = spec.section("table").get(target) if kind == "table" else None
        keys = {"partition_key": table.partition_key, "sort_key": table.sort_key, "ttl": table.ttl} if table else {}
        env[env_name(target)] = link_value(kind, verbs, aws_link_estimate(spec.name, kind, target, keys))
    return len(json.dumps(env, separators=(",", ":")).encode())


def _subscription(spec: AppSpec, source: SourceMap, cloud: str, fname: str) -> list[Problem]:
    from .filters import filter_expression

    lim = LIMITS[cloud]
    fn = spec.functions[fname]
    topic = fn.topic
    assert topic is not None
    base = ("functions", fname)
    problems = []

    def err(loc, message, *, at_key=False):
        problems.append(source.problem(loc, f"on {cloud}: {message}", at_key=at_key))

    physical = fname if cloud == "azure" else f"{spec.name}-{topic.name}-{fname}"
    if len(physical) > lim.subscription_name_max:
        err(base, f"subscription name '{physical}' is {len(physical)} characters, over {lim.subscription_name_max}"
            f" ({lim.subscription_name_rule}); shorten the function name", at_key=True)
    report = _Report(source, cloud)
    _retries(report, report.where(*base, "topic", "max_retries"), topic)
    problems += report.problems
    if not topic.filter:
        return problems
    loc = ("functions", fname, "topic", "filter")
    if cloud == "aws":
        combinations = math.prod(len(v) if isinstance(v, list) else 1 for v in topic.filter.values())
        if len(topic.filter) > 5:
            err(loc, f"the filter matches {len(topic.filter)} attributes, over 5 ({lim.filter_rule});"
                " match fewer attributes and check the rest in the handler", at_key=True)
        elif combinations > 150:
            err(loc, f"the filter has {combinations} value combinations, over 150 ({lim.filter_rule});"
                " match fewer values and check the rest in the handler", at_key=True)
    if cloud == "gcp":
        reserved = [k for k in topic.filter if k.lower().startswith("goog")]
        if reserved:
            err((*loc, reserved[0]), f"Pub/Sub attribute names may not start with 'goog'; rename {reserved[0]!r}",
                at_key=True)
    if lim.filter_max_length:
        size = len(filter_expression(cloud, topic.filter).encode())
        if size > lim.filter_max_length:
            err(loc, f"the filter becomes {size} bytes, over {lim.filter_max_length} ({lim.filter_rule});"
                " match fewer values, or filter in the handler", at_key=True)
    return problems


def _schedule_on(source: SourceMap, cloud: str, base: tuple, text: str) -> list[Problem]:
    lim = LIMITS[cloud]
    try:
        schedule = parse_schedule(text)
    except ScheduleError:
        return []  # reported once by _schedules
    try:
        {"aws": schedule.for_aws, "azure": schedule.for_azure, "gcp": schedule.for_gcp}[cloud]()
    except ScheduleError as exc:
        takes = " takes only cron" if lim.schedule_rates == "cron-only" else ""
        return [source.problem((*base, "schedule"), f"on {cloud}: {lim.schedule_service}{takes}: {exc}")]
    return []
