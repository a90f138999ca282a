"""Cross-checks that need the whole app: references, verbs, handlers, and each cloud's limits."""

from __future__ import annotations

import ast
import difflib
from pathlib import Path

from .capabilities import CLOUDS, LIMITS, round_memory
from .loader import Problem, SourceMap
from .model import VERBS_BY_KIND, AppSpec
from .schedule import ScheduleError, parse_schedule


def cross_check(
    spec: AppSpec, source: SourceMap, *, app_dir: Path, cloud: str | None, check_handlers: bool = True
) -> list[Problem]:
    problems: list[Problem] = []
    problems += _unique_names(spec, source)
    problems += _references(spec, source)
    problems += _schedules(spec, source)
    problems += _http_prefixes(spec, source)
    problems += _queue_timeouts(spec, source)
    if check_handlers:
        problems += _handlers(spec, source, app_dir)
    for name in [cloud] if cloud else list(CLOUDS):
        problems += cloud_problems(spec, source, name)
    return problems


def _did_you_mean(name: str, choices: list[str]) -> str:
    guess = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean {guess[0]!r}?" if guess else ""


def _unique_names(spec: AppSpec, source: SourceMap) -> list[Problem]:
    problems = []
    first_seen: dict[str, str] = {}
    for group in ("functions", "queues", "topics", "tables", "secrets"):
        for name in getattr(spec, group):
            if name in first_seen:
                problems.append(source.problem(
                    (group, name),
                    f"name {name!r} is already used by {first_seen[name]}; resource names are unique across kinds",
                    at_key=True))
            else:
                first_seen[name] = group
    return problems


def _references(spec: AppSpec, source: SourceMap) -> list[Problem]:
    problems = []
    plural = {"queue": "queues", "topic": "topics"}
    for fname, fn in spec.functions.items():
        for kind, trigger in (("queue", fn.queue), ("topic", fn.topic)):
            if trigger is None:
                continue
            declared = list(getattr(spec, plural[kind]))
            if trigger.name not in declared:
                actual = spec.kind_of(trigger.name)
                if actual:
                    msg = f"{trigger.name!r} is a {actual}, not a {kind}; a {kind} trigger needs one of {plural[kind]}"
                else:
                    msg = (f"{kind} {trigger.name!r} is not declared under {plural[kind]}:"
                           f"{_did_you_mean(trigger.name, declared)}")
                    if not declared:
                        msg += f" (declare it under {plural[kind]}:)"
                loc = ("functions", fname, kind, "name") if (("functions", fname, kind, "name") in source.values) else ("functions", fname, kind)
                problems.append(source.problem(loc, msg))
        for target, verbs in fn.links.items():
            loc = ("functions", fname, "links", target)
            kind = spec.kind_of(target)
            if kind is None:
                every = [n for g in ("queues", "topics", "tables", "secrets") for n in getattr(spec, g)]
                problems.append(source.problem(
                    loc, f"link to {target!r}, which is not declared{_did_you_mean(target, every)}", at_key=True))
                continue
            if kind == "function":
                problems.append(source.problem(
                    loc, f"{target!r} is a function; links grant access to queues, topics, tables and secrets"
                         " (to call a function, send to a queue it consumes)", at_key=True))
                continue
            allowed = VERBS_BY_KIND[kind]
            for i, verb in enumerate(verbs):
                if verb not in allowed:
                    problems.append(source.problem(
                        (*loc, i), f"verb {verb!r} does not apply to {kind} {target!r}; a {kind} takes {', '.join(allowed)}"))
    return problems


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
        prefix = fn.http.rstrip("/") or "/"
        if prefix in owner:
            problems.append(source.problem(
                ("functions", fname, "http"),
                f"http prefix {fn.http!r} is already served by function {owner[prefix]!r}; give each function its own prefix"))
        owner[prefix] = fname
    return problems


def _queue_timeouts(spec: AppSpec, source: SourceMap) -> list[Problem]:
    problems = []
    for qname, queue in spec.queues.items():
        consumers = spec.consumers_of_queue(qname)
        if len(consumers) > 1:
            problems.append(source.problem(
                ("functions", consumers[1], "queue"),
                f"queue {qname!r} already has consumer {consumers[0]!r}; a queue has one consumer"
                " (use a topic to fan out to several functions)"))
        for consumer in consumers:
            timeout = spec.functions[consumer].timeout
            if queue.visibility_timeout < timeout:
                problems.append(source.problem(
                    ("queues", qname, "visibility_timeout") if ("queues", qname, "visibility_timeout") in source.values else ("queues", qname),
                    f"visibility_timeout {queue.visibility_timeout}s is shorter than consumer {consumer!r}'s timeout"
                    f" {timeout}s, so a message would be redelivered while still running;"
                    f" set visibility_timeout to at least {timeout} (6x is the usual advice)"))
    return problems


def _handlers(spec: AppSpec, source: SourceMap, app_dir: Path) -> list[Problem]:
    problems = []
    for fname, fn in spec.functions.items():
        module, _, attr = fn.handler.partition(":")
        loc = ("functions", fname, "handler")
        where = _module_file(app_dir, module)
        if where is None:
            rel = module.replace(".", "/")
            problems.append(source.problem(
                loc, f"module {module!r} not found: expected {rel}.py or {rel}/__init__.py next to the app.yaml"))
            continue
        names, error = _top_level_names(where)
        if error:
            problems.append(source.problem(loc, f"{where.relative_to(app_dir)}: {error}"))
        elif names is not None and attr not in names:
            problems.append(source.problem(
                loc, f"{where.relative_to(app_dir)} defines no {attr!r}{_did_you_mean(attr, sorted(names))}"))
    return problems


def _module_file(app_dir: Path, module: str) -> Path | None:
    base = app_dir.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level_names(path: Path) -> tuple[set[str] | None, str | None]:
    """Names a module binds at top level, found by parsing it (its code is not run)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return None, f"line {exc.lineno}: syntax error: {exc.msg}"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read: {exc}"
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None, None  # star imports: cannot tell statically, trust the module
                names.add((alias.asname or alias.name).split(".")[0])
    return names, None


def cloud_problems(spec: AppSpec, source: SourceMap, cloud: str) -> list[Problem]:
    """What `cloud` cannot do for this spec: errors name the cloud, the feature and the alternative."""
    lim = LIMITS[cloud]
    tag = f"on {cloud}"
    problems: list[Problem] = []

    def err(loc, message):
        problems.append(source.problem(loc, f"{tag}: {message}"))

    def warn(loc, message):
        problems.append(source.problem(loc, f"{tag}: {message}", severity="warning"))

    app = spec.name
    for fname, fn in spec.functions.items():
        base = ("functions", fname)
        if fn.memory > lim.memory_max:
            err((*base, "memory"), f"memory {fn.memory} MB exceeds {lim.function_service}'s {lim.memory_max} MB;"
                f" use at most {lim.memory_max}")
        elif lim.memory_steps and "memory" in fn.model_fields_set and round_memory(cloud, fn.memory) != fn.memory:
            warn((*base, "memory"), f"memory {fn.memory} MB is rounded up to {round_memory(cloud, fn.memory)} MB"
                 f" ({lim.function_service} offers {', '.join(map(str, lim.memory_steps))})")
        limit = lim.http_timeout_max if fn.http is not None else lim.timeout_max
        if fn.timeout > limit:
            why = lim.http_timeout_why if fn.http is not None else f"{lim.function_service} runs a function at most {limit}s"
            err((*base, "timeout"), f"timeout {fn.timeout}s exceeds {limit}s ({why}); {lim.timeout_alternative}")
        physical = f"{app}-{fname}"
        if len(physical) > lim.function_name_max:
            err(base, f"'{physical}' is {len(physical)} characters, over {lim.function_name_max}"
                f" ({lim.function_name_rule}); shorten the app or function name")
        if fn.queue and fn.queue.batch_size > lim.batch_size_max:
            if cloud == "gcp":
                warn((*base, "queue"), f"batch_size {fn.queue.batch_size} becomes 1 ({lim.batch_rule})")
            else:
                err((*base, "queue"), f"batch_size {fn.queue.batch_size} exceeds {lim.batch_size_max} ({lim.batch_rule})")
        if fn.topic:
            if len(fname) > lim.subscription_name_max:
                err(base, f"subscriber name '{fname}' is over {lim.subscription_name_max} characters"
                    f" ({lim.subscription_name_rule}); shorten it")
            if lim.filter_max_length and fn.topic.filter:
                from .filters import filter_expression

                expression = filter_expression(cloud, fn.topic.filter)
                if len(expression.encode()) > lim.filter_max_length:
                    err((*base, "topic", "filter"), f"the filter becomes {len(expression.encode())} bytes, over"
                        f" {lim.filter_max_length} ({lim.filter_rule}); match fewer values or filter in the handler")
        if fn.schedule and lim.schedule_rates == "cron-only":
            try:
                parse_schedule(fn.schedule).as_unix_cron()
            except ScheduleError as exc:
                err((*base, "schedule"), str(exc))
        if fn.schedule and cloud == "aws":
            try:
                parse_schedule(fn.schedule).for_aws()
            except ScheduleError as exc:
                err((*base, "schedule"), str(exc))
    for qname, queue in spec.queues.items():
        base = ("queues", qname)
        if len(f"{app}-{qname}") > lim.queue_name_max:
            err(base, f"'{app}-{qname}' is over {lim.queue_name_max} characters ({lim.queue_name_rule})")
        if queue.max_retries > lim.max_retries_max:
            err((*base, "max_retries"), f"max_retries {queue.max_retries} exceeds {lim.max_retries_max} ({lim.max_retries_rule})")
        if queue.max_retries + 1 < lim.min_deliveries:
            warn((*base, "max_retries"), f"max_retries {queue.max_retries} is raised to {lim.min_deliveries - 1}"
                 f" (Pub/Sub dead-lettering needs at least {lim.min_deliveries} delivery attempts)")
        if queue.visibility_timeout > lim.visibility_timeout_max:
            consumers = spec.consumers_of_queue(qname)
            longest = max((spec.functions[c].timeout for c in consumers), default=0)
            if longest > lim.visibility_timeout_max:
                err((*base, "visibility_timeout"), f"a consumer runs {longest}s but {lim.visibility_rule}")
            else:
                warn((*base, "visibility_timeout"), f"visibility_timeout is capped at {lim.visibility_timeout_max}s ({lim.visibility_rule})")
    for tname in spec.topics:
        if len(f"{app}-{tname}") > lim.topic_name_max:
            err(("topics", tname), f"'{app}-{tname}' is over {lim.topic_name_max} characters ({lim.topic_name_rule})")
    for tname in spec.tables:
        if len(f"{app}{tname}".replace("-", "")) > lim.table_name_max:
            err(("tables", tname), f"table name is over {lim.table_name_max} characters ({lim.table_name_rule})")
    if cloud == "gcp" and app.startswith("goog"):
        problems.append(source.problem(("name",), "on gcp: Pub/Sub names may not start with 'goog'; rename the app"))
    return problems
