"""BENCHMARKS.md from bench/results/latest.jsonl: one table per figure, targets met or not, and why not.

Every number in the report comes from the results file; the notes only interpolate them.
Usage: `python bench/report.py [results.jsonl] [BENCHMARKS.md]` (bench/run.py calls it).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.jsonl"
OUTPUT = ROOT / "BENCHMARKS.md"
LINEAR_EXPONENT = 1.10  # a growth exponent up to this counts as linear
FLOOR_RATIO = 1.2  # issue 14: plan time within 1.2x of a hand-written program


def load(path: Path) -> tuple[dict, dict[str, dict[str, dict]]]:
    meta: dict = {}
    by_bench: dict[str, dict[str, dict]] = defaultdict(dict)
    for raw in path.read_text().splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        if line.get("benchmark") == "run":
            meta = line
        else:
            by_bench[line["benchmark"]][line["figure"]] = line
    return meta, by_bench


HTTP_VS_AWS = 1.5  # bench/warm_overhead.py: HTTP on Azure and GCP within this many times ours on AWS


def _f(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def _met(flag) -> str:
    return "—" if flag is None else ("**met**" if flag else "**not met**")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out + [""]


class Report:
    def __init__(self, meta: dict, data: dict[str, dict[str, dict]]):
        self.meta, self.data = meta, data
        self.summary: list[list[str]] = []
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def command(self, bench: str) -> str:
        """The command whose run measured `bench` (from the run metadata)."""
        for run in self.meta.get("runs") or []:
            if bench in run.get("benchmarks", []):
                return f"`{run.get('command', '?')}`" + (" (quick)" if run.get("quick") else "")
        return f"`{self.meta.get('command', '?')}`"

    def target(self, figure: str, target: str, value: str, met, bench: str) -> None:
        self.summary.append([figure, target, value, _met(met), self.command(bench)])

    # ---- 1 ------------------------------------------------------------------------------------

    def cold_start(self) -> None:
        d = self.data.get("cold_start")
        self.add("## 1. Cold start", "")
        if not d:
            self.add("Not measured in this run (`bench/cold_start.py`).", "")
            return
        bare = d["bare.wall"]
        self.add(f"A fresh `python -I` process imports the entry point and handles one HTTP event and one "
                 f"queue message (no SDK client created); {bare['runs']} interleaved rounds per candidate. "
                 f"Bare interpreter (`python -I -c pass`): median {_f(bare['value'], 2)} ms, "
                 f"p90 {_f(bare['p90_ms'], 2)} ms. *Overhead* is the median of the per-round differences "
                 "to the bare interpreter; *added above host* subtracts instead the host's own start "
                 "(azure.functions, flask, or for the AWS artifact the interpreter as Lambda's runtime hands it "
                 "over), which the platform pays before any user code. *Entry in-process* is the entry's own "
                 "imports and events, timed inside the process.", "")
        rows = []
        for name, line in d.items():
            if not name.endswith(".wall") or name == "bare.wall":
                continue
            rows.append([f"`{name[:-5]}`", line["label"], line["kind"], _f(line["value"]), _f(line["p90_ms"]),
                         _f(line["ratio_to_bare"], 2) + "x", _f(line["overhead_ms"]),
                         _f(line.get("added_above_host_ms")), _f(line.get("entry_in_process_ms"))])
        self.add(*table(["candidate", "what runs", "kind", "median ms", "p90 ms", "vs bare", "overhead ms",
                         "added above host ms", "entry in-process ms"], rows))
        rows = []
        for name in ("aws", "local", "aws_artifact", "azure", "gcp", "azure_artifact", "gcp_artifact"):
            line = d.get(f"{name}.wall")
            if not line or "target" not in line:
                continue
            above = line.get("above_bare_ms", line.get("added_above_host_ms"))
            factor = line.get("peer_factor")
            value = f"{_f(above, 1)} ms" + (f"; Powertools / ours {_f(factor, 1)}x" if factor else "")
            rows.append([f"`{name}`", value, line["target"], _met(line.get("met"))])
            self.target(f"1. cold start, `{name}`", line["target"], value, line.get("met"), "cold_start")
        self.add("Targets (issue 14): AWS and local at most 5 ms above the bare interpreter and at least 15x below "
                 "Powertools (the artifact: above the interpreter as Lambda's runtime leaves it); Azure and Google "
                 "Cloud at most 2 ms above their host's library.", "")
        self.add(*table(["candidate", "measured", "target", "met"], rows))
        self._bytecode(d)
        self._importtime(d)
        self._cold_notes(d)

    def _bytecode(self, d: dict[str, dict]) -> None:
        aws, nopyc = d.get("aws.wall"), d.get("aws_nopyc.wall")
        pack = self.data.get("packaging", {})
        pythons = {c: pack[f"{c}.warm_cache_seconds"].get("python") for c in ("aws", "azure", "gcp")
                   if f"{c}.warm_cache_seconds" in pack}
        if not (aws and nopyc) and not pythons:
            return
        text = "**Bytecode.** Every artifact carries unchecked-hash `.pyc` files compiled by an interpreter of the " \
               "cloud's Python (omnicloud/bundle/bytecode.py)"
        if aws and nopyc:
            text += (f"; without them every cold start compiles `runtime/`: `aws_nopyc` (sources only) takes "
                     f"{_f(nopyc['value'] - aws['value'])} ms more than `aws`")
        if pythons:
            text += ". manifest.json names the Python the bytecode is for: " + "; ".join(
                f"{c} `{json.dumps(p, sort_keys=True)}`" for c, p in pythons.items() if p)
        self.add(text + ".", "")

    def _importtime(self, d: dict[str, dict]) -> None:
        rows = []
        for adapter in ("aws", "azure", "gcp", "local", "aws_artifact"):
            line = d.get(f"{adapter}.importtime")
            if not line:
                continue
            groups = ", ".join(f"{g} {ms:.1f}" for g, ms in (line.get("groups") or {}).items())
            importers = ", ".join(f"`{x['module']}` {x['ms']:.1f}" for x in line["by_importer"][:6])
            modules = ", ".join(f"`{x['module']}` {x['self_ms']:.1f}" + (f" (via `{x['via']}`)" if x.get("via")
                                                                          and x["via"] != x["module"] else "")
                                for x in line["top_modules"][:8])
            rows.append([adapter, _f(line["value"]), str(line["modules"]), groups or "—", importers, modules])
        if rows:
            self.add("`python -X importtime` of each entry: self time (ms) of the modules it imports beyond the "
                     "bare interpreter (for Azure and GCP beyond the host's library, for the AWS artifact beyond "
                     "Lambda's runtime), charged to the module of ours that imported them first. importtime's own "
                     "bookkeeping inflates these numbers; use them to rank, not to add up.", "")
            self.add(*table(["adapter", "import ms", "modules", "by group (ms)", "by importer of ours (ms)",
                             "largest modules (self ms)"], rows))

    def _cold_notes(self, d: dict[str, dict]) -> None:
        notes = []
        json_where = {
            "aws": "the handlers parse and answer JSON; Lambda's runtime has already imported it, so on Lambda "
                   "it is not ours (see `aws_artifact`)",
            "local": "the handlers parse and answer JSON, and `runtime.links` reads the link variables",
            "aws_artifact": "Lambda's runtime has already imported it",
        }
        for name in ("aws", "local", "aws_artifact"):
            line, imp = d.get(f"{name}.wall"), d.get(f"{name}.importtime")
            if not line or line.get("met") is not False:
                continue
            groups = (imp or {}).get("groups") or {}
            first = ", ".join(f"`{x['module']}` {x['ms']:.1f} ms" for x in (imp or {}).get("by_importer", [])[:4])
            notes.append(
                f"**`{name}`: {_f(line.get('above_bare_ms'))} ms** (target 5). {_f(line.get('entry_in_process_ms'))} ms "
                f"of it is the entry itself timed in-process (its imports, then the events); the rest is outside "
                f"that span (compiling the benchmark's script with its event literals, the interpreter's exit). "
                f"Under importtime its imports are {_f(imp['value']) if imp else '—'} ms: our own modules "
                f"{_f(groups.get('ours'))} ms (by importer: {first or '—'}), `json` {_f(groups.get('json'))} ms "
                f"({json_where[name]}), the rest {_f(groups.get('other standard library and packages'))} ms. "
                "Our modules compile no regular expression on the way any more (the router compiles a route's "
                "pattern only for templates with parameters, traceparents are checked by hand); what is left of ours is "
                "the modules themselves: eight `runtime` files, each with its file lookups and unmarshalling even "
                "from bytecode, and some thirty classes built at import (under a millisecond together). What would "
                "fix it: fewer and smaller `runtime` modules and, on AWS, an entry that loads only its trigger's "
                "adapters (an HTTP function loads the SQS, SNS and schedule code of runtime/adapters/aws.py too).")
        for cloud in ("azure", "gcp", "azure_artifact", "gcp_artifact"):
            line = d.get(f"{cloud}.wall")
            if not line or line.get("met") is not False:
                continue
            imp = d.get(f"{cloud}.importtime")
            notes.append(
                f"**`{cloud}`: {_f(line.get('added_above_host_ms'))} ms above its host** (`{line.get('host')}`, "
                f"target 2); the entry in-process takes {_f(line.get('entry_in_process_ms'))} ms"
                + (f", its imports {_f(imp['value'])} ms under importtime" if imp else "")
                + ". The host library itself is most of the start on that cloud (see its row); what is ours is the "
                "`runtime` modules and the first event.")
        if notes:
            self.add("What holds the targets back, and what would fix it:", "")
            self.add(*[f"- {n}" for n in notes], "")

    # ---- 2 ------------------------------------------------------------------------------------

    def warm_overhead(self) -> None:
        d = self.data.get("warm_overhead")
        self.add("## 2. Warm overhead per event", "")
        if not d:
            self.add("Not measured in this run (`bench/warm_overhead.py`).", "")
            return
        any_line = next(iter(d.values()))
        self.add(f"µs per record on a warm instance, median of {any_line['repeats']} repeats (timeit-style, "
                 "calibrated loops after a warm-up), same payloads and handler work for every column. `INFO` is "
                 "the default level: an HTTP invocation writes one JSON line, an SQS batch one line plus one per "
                 "failed record (formatted, then written to /dev/null), each cloud's case under the logging set-up "
                 "its host gives it (bench/warm_overhead.py); `WARNING` turns the lines off. Powertools covers only "
                 "AWS payloads; *hand-written* is the least code that does the same work (the floor).", "")
        events = []
        for line in d.values():
            if line.get("kind") != "breakdown" and line["event"] not in events:
                events.append(line["event"])
        rows = []
        for event in events:
            peers = {n.split(".", 1)[1]: line for n, line in d.items() if line.get("event") == event
                     and line["kind"] not in ("ours", "breakdown")}
            ours = [(n.split(".", 1)[1], line) for n, line in d.items() if line.get("event") == event
                    and line["kind"] == "ours" and line["log_level"] == "INFO"]
            for adapter, line in ours:
                quiet = d.get(f"{event}.{adapter}.quiet")
                rows.append([event, adapter, _f(line["value"], 2), _f(quiet["value"], 2) if quiet else "—",
                             _f(peers.get("powertools", {}).get("value"), 2),
                             _f(peers.get("mangum_fastapi", {}).get("value"), 2),
                             _f(peers.get("hand_written", {}).get("value"), 2),
                             line.get("target", "—"), _f(line.get("limit_us"), 2), _met(line.get("met"))])
                if "target" in line:
                    number = "3" if event.startswith("sqs_") else "2"
                    self.target(f"{number}. warm, {event} on {adapter}", line["target"],
                                f"{_f(line['value'], 1)} µs against {_f(line.get('limit_us'), 1)} µs",
                                line.get("met"), "warm_overhead")
        self.add(*table(["event", "adapter", "ours µs (INFO)", "ours µs (WARNING)", "Powertools µs",
                         "Mangum+FastAPI µs", "hand-written µs", "target", "limit µs", "met"], rows))
        self._warm_notes(d)
        self.notes("warm_overhead")

    def _warm_notes(self, d: dict[str, dict]) -> None:
        notes = []
        http, quiet, pt = d.get("http.aws"), d.get("http.aws.quiet"), d.get("http.powertools")
        parts = (d.get("breakdown.http_aws") or {}).get("parts") or {}
        if http and http.get("met") is False:
            steps = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
            notes.append(
                f"**HTTP on AWS: {_f(http['value'], 1)} µs against {_f(http.get('limit_us'), 1)} µs** (half of "
                f"Powertools' {_f(pt['value'] if pt else None, 1)} µs). With the log line off it is "
                f"{_f(quiet['value'] if quiet else None, 1)} µs: the line and the ids it reads cost about "
                f"{_f(http['value'] - quiet['value'] if quiet else None, 1)} µs (INFO minus WARNING; rendering and "
                f"writing it alone is the `log line` step below); each step timed alone (µs): "
                f"{steps or '—'}. The Request's headers, query and cookies are decoded when first read (an "
                "invocation looks up only the traceparent its correlation id comes from, with one lookup where "
                "the names arrive in lower case, as from HTTP API v2), a route "
                "without parameters is matched without a regular expression, and a JSON body goes into Lambda's "
                "answer without a round trip through bytes. What is left is mostly what Powertools does not do: "
                "the invocation line (rendered from JSON fragments and written with a flush, so it reaches "
                "CloudWatch before the instance freezes, with a new trace id unless the request brought one) "
                "and the invocation context the router and the handler run in (so clients forward the trace). "
                f"With the line off ours is {_f(quiet['value'] / pt['value'] if quiet and pt else None, 2)}x "
                "Powertools. What would fix it: a line that costs less than rendering ten JSON members per "
                "request, which Python makes hard, or no line for a successful request, which the README's log "
                "contract promises operators.")
        sqs, sqs_quiet, sqs_pt = d.get("sqs_100.aws"), d.get("sqs_100.aws.quiet"), d.get("sqs_100.powertools")
        sqs_parts = (d.get("breakdown.sqs_record_aws") or {}).get("parts") or {}
        if sqs and sqs.get("met") is False:
            steps = ", ".join(f"{k} {v:.2f}" for k, v in sqs_parts.items())
            notes.append(
                f"**An SQS record (batch of 100): {_f(sqs['value'], 2)} µs against {_f(sqs.get('limit_us'), 2)} µs** "
                f"(twice Powertools' BatchProcessor at {_f(sqs_pt['value'] if sqs_pt else None, 2)} µs). The log is "
                f"already one line per batch ({_f(sqs_quiet['value'] if sqs_quiet else None, 2)} µs per record with "
                f"it off); per record (µs): {steps or '—'}. BatchProcessor wraps the record dict and calls the "
                "handler; ours checks the record's id, body and source, makes a Message whose attributes, receive "
                "count and send time stay in the record until read, and runs the handler in the record's own "
                "invocation context (one object, a context variable set and reset), so a failure is logged with "
                "that record's id and correlation id and its clients carry its trace. What would fix the rest: "
                "one invocation context per batch, which would give up the per-record correlation id.")
        where = {"azure": "the Functions host's HttpRequest and HttpResponse objects, and the line going "
                          "through `logging` to the worker's handler (which sends it to the host with the "
                          "invocation attached)",
                 "gcp": "werkzeug's request (its headers are title-cased from the WSGI environ on every read) "
                        "and flask's response tuple"}
        for cloud, host_part in where.items():
            line, line_quiet = d.get(f"http.{cloud}"), d.get(f"http.{cloud}.quiet")
            if not line or line.get("met") is not False or not http:
                continue
            notes.append(
                f"**HTTP on {'Azure' if cloud == 'azure' else 'Google Cloud'}: {_f(line['value'], 1)} µs, "
                f"{_f(line.get('vs_aws'), 2)}x ours on AWS** (target {HTTP_VS_AWS:g}x, {_f(line.get('limit_us'), 1)} µs). "
                f"With the line off {_f(line_quiet['value'] if line_quiet else None, 1)} µs against AWS's "
                f"{_f(quiet['value'] if quiet else None, 1)} µs. It runs the same Request builder, router and "
                f"line as AWS; the difference is the host's part: {host_part}. The target is relative to ours "
                "on AWS, so what made AWS faster (the Request decoded when first read) tightened it; what would "
                "fix it is less work per request in the host's objects, which are not ours to change.")
        if notes:
            self.add("What holds the targets back, and what would fix it:", "")
            self.add(*[f"- {n}" for n in notes], "")

    # ---- 3 ------------------------------------------------------------------------------------

    def client_first_use(self) -> None:
        d = self.data.get("client_first_use")
        self.add("## 3. First use of a cloud client, and warm reuse", "")
        if not d:
            self.add("Not measured in this run (`bench/client_first_use.py`).", "")
            return
        runs = next((line["runs"] for line in d.values() if "runs" in line), "?")
        self.add(f"Fresh `python -I` processes against moto in server mode on 127.0.0.1 (no real cloud), "
                 f"{runs} runs each, medians. The issue sets no target for this figure.", "")
        rows = [[f"`{name}`", line["label"], _f(line["value"], 2) + (" ms" if line["unit"] == "ms" else "x"),
                 _f(line.get("p90_ms"), 2)] for name, line in d.items()]
        self.add(*table(["step", "what", "median", "p90 ms"], rows))
        first = d.get("runtime.queue_send_first")
        if first and first.get("boto3_equivalent_ms"):
            self.add(f"`Queue.send`'s first call ({_f(first['value'])} ms) does what boto3 needs "
                     f"{_f(first['boto3_equivalent_ms'])} ms for in a bare process (import, client, first call); "
                     "it is lower because `runtime` has already imported part of the standard library boto3 uses. "
                     "Warm, the facade costs what the boto3 call costs (ratios above).", "")

    # ---- 4 ------------------------------------------------------------------------------------

    def plan_time(self) -> None:
        d = self.data.get("plan_time")
        self.add("## 4. Plan time", "")
        if not d:
            self.add("Not measured in this run (`bench/plan_time.py`).", "")
            return
        self.add("`omnicloud preview` (the project's Pulumi program under mocks) on generated apps, each in a "
                 "fresh process, timed after a first run in that process (median of three up to 100 functions). "
                 "The floor is a hand-written Pulumi program: the same cloud resources our preview registered, "
                 "each through the SDK class a team would call (pulumi_aws, pulumi_azure_native, pulumi_gcp) with "
                 "its inputs written out, an input ours takes from another resource's output (an ARN, an id) "
                 "taken from that resource's Output, run by the same harness (mocks, GC policy, recording); no "
                 "spec, no components, no providers. It registers exactly our inputs. "
                 f"Targets (issue 14): within {FLOOR_RATIO}x of the floor, and linear growth to 1,000 functions "
                 f"(exponent <= {LINEAR_EXPONENT:.2f} counted as linear).", "")
        rows = []
        clouds: dict[str, list[int]] = defaultdict(list)
        for name in d:
            parts = name.split(".")
            if len(parts) == 3 and parts[2] == "seconds":
                clouds[parts[0]].append(int(parts[1]))
        for cloud, sizes in clouds.items():
            for n in sorted(sizes):
                key = f"{cloud}.{n}"
                ratio = d[f"{key}.ratio_to_floor"]["value"]
                floor = d[f"{key}.floor_seconds"]
                rows.append([cloud, str(n), f"{d[f'{key}.seconds'].get('resources', '')} / {floor.get('resources', '')}",
                             _f(d[f"{key}.seconds"]["value"], 2), _f(floor["value"], 2),
                             _f(ratio, 2) + "x", _met(ratio <= FLOOR_RATIO),
                             _f(d[f"{key}.peak_rss"]["value"], 0), _f(floor.get("peak_rss_mb"), 0)])
                self.target(f"4. plan time, {cloud}, {n} functions", f"<= {FLOOR_RATIO}x the hand-written program",
                            f"{_f(ratio, 2)}x", ratio <= FLOOR_RATIO, "plan_time")
            growth = d.get(f"{cloud}.growth_exponent")
            if growth:
                self.target(f"4. plan time growth, {cloud}", f"linear (<= {LINEAR_EXPONENT:.2f})",
                            _f(growth["value"], 2), growth["value"] <= LINEAR_EXPONENT, "plan_time")
        self.add(*table(["cloud", "functions", "registrations (ours / floor)", "seconds", "floor seconds", "ratio",
                         f"<= {FLOOR_RATIO}x", "peak RSS MB", "floor peak RSS MB"], rows))
        growth_rows = [[c, _f(d[f"{c}.growth_exponent"]["value"], 2),
                        _met(d[f"{c}.growth_exponent"]["value"] <= LINEAR_EXPONENT),
                        _f(d[f"{c}.floor_growth_exponent"]["value"], 2) if f"{c}.floor_growth_exponent" in d else "—"]
                       for c in clouds if f"{c}.growth_exponent" in d]
        if growth_rows:
            self.add(*table(["cloud", "growth exponent", "linear", "floor's own exponent"], growth_rows))
        profiles = {name.split(".")[0]: line for name, line in d.items() if name.endswith(".profile")}
        if profiles:
            rows = []
            for cloud, line in profiles.items():
                ours, floor = line["ours"], line["floor"]
                rows.append([cloud, f"{line['registrations']} / {line['floor_registrations']}",
                             f"{_f(ours['profiled_seconds'], 2)} / {_f(floor['profiled_seconds'], 2)}",
                             f"{_f(ours['stack capture'], 2)} / {_f(floor['stack capture'], 2)}",
                             f"{_f(ours['frames per registration'], 1)} / {_f(floor['frames per registration'], 1)}",
                             _f(ours["app.yaml and spec"], 2), _f(ours["artifacts (warm cache)"], 2)])
            self.add(f"One more preview of each, at {next(iter(profiles.values()))['figure'].split('.')[1]} "
                     "functions, under cProfile (main thread, where the program and Pulumi's registrations run; "
                     "profiling inflates the seconds):", "")
            self.add(*table(["cloud", "registrations (ours / floor)", "profiled s (ours / floor)",
                             "Pulumi's stack capture s", "frames captured per registration", "ours: app.yaml and spec s",
                             "ours: artifacts s"], rows))
        worst = {c: max(d[f"{c}.{n}.ratio_to_floor"]["value"] for n in sizes) for c, sizes in clouds.items()}
        if any(r > FLOOR_RATIO for r in worst.values()):
            self.add(
                "What holds the target back, and what would fix it:", "",
                "- **More registrations.** Ours registers one ComponentResource per app.yaml entry (plus the app "
                "and its HTTP API) besides the cloud resources, so Pulumi runs its registration path (Output "
                "resolution, serialisation, the mock round trip, the recording) that many more times (registration "
                "counts above).",
                "- **Deeper stacks at each registration.** Pulumi's Python SDK captures the call stack of every "
                "resource it registers (`_get_stack_trace`: `traceback.extract_stack`, which stats each frame's "
                "file, and a `pathlib` URI per frame), so each frame between the program and the SDK class costs at "
                "every registration; ours goes program -> App -> component -> provider mapping -> SDK class (frames "
                "per registration above).",
                "- **What would fix it:** fewer frames between the program and each SDK class (components that call "
                "the mapping directly) and fewer component registrations, at the price of the neutral tree the "
                "design asks for. Loading app.yaml and the warm-cache artifact checks are a small part (columns "
                "above); app.yaml is composed by libyaml since issue 14.", "")
        for c, sizes in clouds.items():
            growth = d.get(f"{c}.growth_exponent")
            floor_growth = d.get(f"{c}.floor_growth_exponent")
            if growth and growth["value"] > LINEAR_EXPONENT and len(sizes) > 1:
                lo, hi = min(sizes), max(sizes)
                self.add(f"- **{c}: growth exponent {_f(growth['value'], 2)}** (the floor's own: "
                         f"{_f(floor_growth['value'], 2) if floor_growth else '—'}). The ratio to the floor goes from "
                         f"{_f(d[f'{c}.{lo}.ratio_to_floor']['value'], 2)}x at {lo} functions to "
                         f"{_f(d[f'{c}.{hi}.ratio_to_floor']['value'], 2)}x at {hi}, and peak RSS from "
                         f"{_f(d[f'{c}.{lo}.peak_rss']['value'], 0)} to {_f(d[f'{c}.{hi}.peak_rss']['value'], 0)} MB.")
        self.add("")

    # ---- 5 ------------------------------------------------------------------------------------

    def packaging(self) -> None:
        d = self.data.get("packaging")
        self.add("## 5. Packaging", "")
        if not d:
            self.add("Not measured in this run (`bench/package_build.py`).", "")
            return
        self.add("`omnicloud package --cloud <cloud>` on a copy of the sample app (4 functions), the real command in "
                 "a fresh process. *Cold*: empty `OMNICLOUD_CACHE_DIR`, pip's cache off, wheels from the index. "
                 "*Warm cache*: the same cache, a new output directory (every zip written). *One-function change*: "
                 "`functions/api.py` (imported by the api function only) edited, the same output directory. "
                 "*Unchanged*: the same output directory again. *In-process*: the same build timed inside one "
                 "process after its imports (what `pulumi up` runs), without the interpreter's start. Targets "
                 "(issue 14): a one-function change <= 0.5 s, unchanged <= 0.2 s, warm.", "")
        rows = []
        for cloud in ("aws", "azure", "gcp"):
            if f"{cloud}.changed_seconds" not in d:
                continue
            size, changed, unchanged = d[f"{cloud}.artifact_bytes"], d[f"{cloud}.changed_seconds"], \
                d[f"{cloud}.unchanged_seconds"]
            python = changed.get("python") or {}
            rows.append([cloud, _f(d[f"{cloud}.cold_seconds"]["value"], 2),
                         _f(d[f"{cloud}.warm_cache_seconds"]["value"], 2),
                         f"{_f(changed['value'], 2)} ({_met(changed.get('met'))})", _f(changed.get("in_process_s"), 2),
                         f"{_f(unchanged['value'], 2)} ({_met(unchanged.get('met'))})",
                         _f(size["value"] / 2**20, 2), f"{size['largest_function']} {size['largest_bytes'] / 2**20:.2f}",
                         f"{python.get('version', '—')}, {python.get('bytecode') or 'sources only'}"])
            self.target(f"5. packaging, one-function change, {cloud}", changed.get("target", "—"),
                        f"{_f(changed['value'], 2)} s", changed.get("met"), "packaging")
            self.target(f"5. packaging, unchanged, {cloud}", unchanged.get("target", "—"),
                        f"{_f(unchanged['value'], 2)} s", unchanged.get("met"), "packaging")
        self.add(*table(["cloud", "cold s", "warm-cache s", "one-function change s", "in-process s",
                         "unchanged s", "all artifacts MiB", "largest function MiB", "Python, bytecode"], rows))
        start = d.get("python_start_seconds")
        profiles = {c: d[f"{c}.changed_profile"] for c in ("aws", "azure", "gcp") if f"{c}.changed_profile" in d}
        missed = [c for c in ("aws", "azure", "gcp") if d.get(f"{c}.changed_seconds", {}).get("met") is False]
        if profiles:
            labels = list(next(iter(profiles.values()))["parts"])
            self.add("Where a one-function change goes (seconds; the build's parts under cProfile, which inflates "
                     "them; the imports under `-X importtime`):", "")
            self.add(*table(["part", *profiles], [[label, *(_f(p["parts"].get(label), 3) for p in profiles.values())]
                                                  for label in labels]))
        imports = {c: p["parts"].get("imports (python -X importtime, top level)") for c, p in profiles.items()}
        where = (
            "Since issue 14's parse cache, most of what is left is the command's fixed cost (table above): importing "
            "the spec (pydantic models, PyYAML) and the bundler"
            + (f" ({', '.join(f'{_f(v, 2)} s on {c}' for c, v in imports.items() if v is not None)} under "
               "`-X importtime`)" if imports else "")
            + ", and loading and validating app.yaml. The checks (handlers, dependencies, resource names) and the "
            "import closures share one parse per module and keep what they read in the build cache by content "
            "hash, so only the edited module is parsed; the stamp and the cached shims, site zips and bytecode "
            "leave one zip to write and one file to compile (in this process when the cloud's Python is the one "
            "running omnicloud, else by the cloud's interpreter, started while app.yaml loads).")
        if missed:
            self.add(
                "What holds the target back, and what would fix it:", "",
                f"- **A one-function change** takes {', '.join(_f(d[f'{c}.changed_seconds']['value'], 2) + ' s on ' + c for c in missed)}"
                f"; the interpreter alone starts in {_f(start['value'], 2) if start else '—'} s here. {where} "
                "What would fix it: when the stamp shows that only app modules changed, rebuild those functions' "
                "zips from the last build's plan (each function's links, requirements and entries) without "
                "importing pydantic or loading app.yaml (the checks need only the plan's links and requirements).", "")
        elif profiles:
            self.add(f"Where a one-function change's time goes: {where}", "")

    # ---- 6, 7 and anything else ---------------------------------------------------------------

    def generic(self, title: str, bench: str, hook: str) -> None:
        d = self.data.get(bench)
        self.add(f"## {title}", "")
        if not d:
            self.add(f"Not measured yet: `{hook}` is not in this run (it comes with the dev server and the "
                     "local platform).", "")
            return
        rows = []
        for name, line in d.items():
            extra = {k: v for k, v in line.items() if k not in ("benchmark", "figure", "value", "unit", "target", "met")}
            rows.append([f"`{name}`", _f(line["value"], 2) + f" {line['unit']}", str(line.get("target", "—")),
                         _met(line.get("met")), ", ".join(f"{k}={v}" for k, v in extra.items())])
            if "target" in line:
                self.target(f"{title.split('.')[0]}. {name}", str(line["target"]), f"{_f(line['value'], 2)} {line['unit']}",
                            line.get("met"), bench)
        self.add(*table(["figure", "value", "target", "met", "details"], rows))
        self.notes(bench)

    def notes(self, bench: str) -> None:
        """bench/notes/<bench>.md under the benchmark's table: figures measured by hand (a comparison of
        versions, say), each with the command that measured it."""
        notes = ROOT / "bench" / "notes" / f"{bench}.md"
        if notes.exists():
            self.add("", notes.read_text().rstrip(), "")

    def render(self) -> str:
        self.cold_start()
        self.warm_overhead()
        self.client_first_use()
        self.plan_time()
        self.packaging()
        self.generic("6. Local platform throughput", "local_platform", "bench/local_platform.py")
        self.generic("7. Scale: 100,000 agents", "scale", "bench/scale.py")
        known = {"cold_start", "warm_overhead", "client_first_use", "plan_time", "packaging", "local_platform", "scale"}
        for bench in self.data:
            if bench not in known:
                self.generic(bench, bench, f"bench/{bench}.py")
        m = self.meta
        head = [
            "# Benchmarks", "",
            "Generated by `bench/report.py` from `bench/results/latest.jsonl`. Each benchmark's figures come from "
            "one run of it (listed below); figures that compare are ratios or differences within that run, "
            "because the machine is shared and noisy.", "",
            *([f"- Command: `{run.get('command', '?')}`" + (" (quick mode)" if run.get("quick") else "")
               + f" at {run.get('started', '?')} (took {_f(run.get('seconds'), 0)} s): "
               + ", ".join(run.get("benchmarks", [])) for run in m["runs"]] if m.get("runs") else [
                f"- Command: `{m.get('command', '?')}`" + (" (quick mode: fewer repetitions)" if m.get("quick") else ""),
                f"- When: {m.get('started', '?')} (took {_f(m.get('seconds'), 0)} s)"]),
            f"- Machine: {m.get('nproc', '?')} CPUs ({m.get('cpu', '?')}), {m.get('platform', '?')}, "
            f"Python {m.get('python', '?')}",
            f"- Peers: {m.get('peers', '?')}",
            *([f"- **Failed in this run** (figures missing or partial): {', '.join(m['failed'])}"]
              if m.get("failed") else []), "",
            "## Targets", "",
            "Issue 14's targets (1 cold start, 2 warm HTTP, 3 warm queue records, 4 plan time, 5 packaging, "
            "6 local platform; figures 6 and 7 are also compared with their previous runs in their sections). "
            "Every figure below comes from the command named beside it, run on a machine shared with other "
            "engineers' test suites: absolute times move with the load, the ratios less.", "",
            *table(["figure", "target", "measured", "status", "command"], self.summary),
        ]
        return "\n".join(head + self.lines).rstrip() + "\n"


def generate(results: Path = RESULTS, output: Path = OUTPUT) -> Path:
    meta, data = load(results)
    output.write_text(Report(meta, data).render())
    return output


if __name__ == "__main__":
    args = sys.argv[1:]
    path = generate(Path(args[0]) if args else RESULTS, Path(args[1]) if len(args) > 1 else OUTPUT)
    print(path)
