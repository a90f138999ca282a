"""Model backends: `echo` (deterministic, local) and `openai` (any OpenAI-compatible endpoint).

Both take the conversation in the OpenAI chat format and return a ModelReply: text, tool
calls, or both. Neither imports anything heavier than the standard library.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .tools import REGISTRY, ToolError, calculate

BACKENDS = ("echo", "openai")
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class ModelError(Exception):
    """The model call failed. `transient` ones (timeouts, 429, 5xx) are worth another try."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class ModelTimeout(ModelError):
    """The call did not answer within the time the task had left."""

    def __init__(self, message: str = "the model did not answer in time"):
        super().__init__(message, transient=True)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    def as_openai(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": json.dumps(self.arguments, separators=(",", ":"))}}


@dataclass
class ModelReply:
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)


def complete(model: dict[str, Any], messages: list[dict[str, Any]], tools: list[str], *, timeout: float,
             api_key: str | None = None) -> ModelReply:
    """One model call with at most `timeout` seconds to answer."""
    if timeout <= 0:
        raise ModelTimeout()
    backend = model.get("backend")
    if backend == "echo":
        return echo(model, messages, tools, timeout=timeout)
    if backend == "openai":
        return openai(model, messages, tools, timeout=timeout, api_key=api_key)
    raise ModelError(f"unknown model backend {backend!r}; use one of {', '.join(BACKENDS)}")


# -- echo ----------------------------------------------------------------------------------

_ARITHMETIC_RUN = re.compile(r"[\d\s.()+\-*/%^]+")
_HAS_OPERATOR = re.compile(r"[\d)]\s*(\*\*|//|[-+*/%^])\s*[\d(]")
_TIME_WORDS = re.compile(r"\b(time|date|clock|today|now)\b", re.I)
_NOTE_WORDS = re.compile(r"\bnotes?\b(?:\s+(?:about|on|for|regarding))?\s*(.*)", re.I)


def expressions_in(text: str) -> list[str]:
    """The arithmetic expressions in `text`, in order (what echo asks the calculator for)."""
    found = []
    for run in _ARITHMETIC_RUN.findall(text):
        candidate = run.strip().strip(".")
        if not _HAS_OPERATOR.search(candidate):
            continue
        try:
            calculate(candidate)
        except ToolError:
            continue
        found.append(candidate)
    return found


def echo(model: dict[str, Any], messages: list[dict[str, Any]], tools: list[str], *, timeout: float) -> ModelReply:
    """A deterministic model: calls the tools the prompt asks for, one per step, then answers.

    Settings: `delay_seconds` (sleep before answering, to mimic a slow model) and `fail`
    (answer with that error instead).
    """
    delay = float(model.get("delay_seconds") or 0)
    if delay:
        time.sleep(min(delay, timeout))
        if delay > timeout:
            raise ModelTimeout()
    if model.get("fail"):
        raise ModelError(f"echo model asked to fail: {model['fail']}")
    prompt = next((m.get("content") or "" for m in messages if m.get("role") == "user"), "")
    results = [m for m in messages if m.get("role") == "tool"]
    done = {"calculator": 0, "clock": 0, "notes": 0}
    for message in messages:
        for call in message.get("tool_calls") or ():
            name = call["function"]["name"]
            done[name] = done.get(name, 0) + 1
    step = sum(1 for m in messages if m.get("role") == "assistant") + 1

    wanted: list[tuple[str, dict[str, Any]]] = []
    if "calculator" in tools:
        wanted += [("calculator", {"expression": e}) for e in expressions_in(prompt)[done["calculator"]:]]
    if "clock" in tools and _TIME_WORDS.search(prompt) and not done["clock"]:
        wanted.append(("clock", {}))
    note = _NOTE_WORDS.search(prompt)
    if "notes" in tools and note and not done["notes"]:
        wanted.append(("notes", {"query": note.group(1).strip(" ?.!") or prompt}))
    if wanted:
        name, arguments = wanted[0]
        return ModelReply(tool_calls=[ToolCall(id=f"call_{step}_1", name=name, arguments=arguments)],
                          usage={"steps": step})

    names = {call["id"]: call["function"]["name"] for m in messages for call in m.get("tool_calls") or ()}
    lines = [f"echo: {prompt}"]
    for result in results:
        lines.append(f"{names.get(result.get('tool_call_id'), 'tool')}: {_summary(result.get('content') or '')}")
    return ModelReply(content="\n".join(lines), usage={"steps": step})


def _summary(content: str) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        return content
    if isinstance(data, dict) and "error" in data:
        return f"error: {data['error']}"
    result = data.get("result") if isinstance(data, dict) else data
    if isinstance(result, dict) and "expression" in result:
        return f"{result['expression']} = {result['result']}"
    if isinstance(result, dict) and "iso" in result:
        return result["iso"]
    if isinstance(result, dict) and "notes" in result:
        return "; ".join(f"{n['key']}: {n['text']}" for n in result["notes"]) or "no matching notes"
    return json.dumps(result)


# -- openai-compatible ----------------------------------------------------------------------
#
# The model API key is sent to base_url, so base_url must be under MODEL_ALLOWED_BASE_URLS
# (checked when an agent is saved and again before every call), and redirects are never
# followed: a 3xx fails the call, so the key never reaches another host.

def allowed_base_urls() -> list[str]:
    from . import store

    raw = store.setting("MODEL_ALLOWED_BASE_URLS") or store.setting("MODEL_BASE_URL") or DEFAULT_OPENAI_BASE_URL
    return [u.strip().rstrip("/") for u in raw.split(",") if u.strip()]


def base_url_allowed(base_url: str) -> bool:
    return any(base_url == a or base_url.startswith(a + "/") for a in allowed_base_urls())


def _redacted(text: str, secret: str | None) -> str:
    return text.replace(secret, "[redacted]") if secret else text


_opener = None


def _no_redirect_opener():
    """urllib's opener with redirects refused (the 3xx comes back as an HTTPError); proxies still work."""
    global _opener
    if _opener is None:
        import urllib.request

        class RefuseRedirects(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, req, fp, code, msg, headers, newurl):
                return None

        _opener = urllib.request.build_opener(RefuseRedirects)
    return _opener


def openai(model: dict[str, Any], messages: list[dict[str, Any]], tools: list[str], *, timeout: float,
           api_key: str | None) -> ModelReply:
    """POST <base_url>/chat/completions; tool calls in the OpenAI `tools` format."""
    try:
        return _openai(model, messages, tools, timeout=timeout, api_key=api_key)
    except ModelTimeout:
        raise
    except ModelError as exc:  # an endpoint may echo the key back in its error text
        raise ModelError(_redacted(str(exc), api_key), transient=exc.transient) from None


def _openai(model: dict[str, Any], messages: list[dict[str, Any]], tools: list[str], *, timeout: float,
            api_key: str | None) -> ModelReply:
    import urllib.error  # with http.client and ssl: only when a model is called, not at cold start
    import urllib.request

    base_url = (model.get("base_url") or DEFAULT_OPENAI_BASE_URL).rstrip("/")
    if not base_url_allowed(base_url):
        raise ModelError(f"model base_url {base_url!r} is no longer allowed (MODEL_ALLOWED_BASE_URLS); "
                         "the model API key is not sent there")
    payload: dict[str, Any] = {"model": model.get("name"), "messages": messages}
    if tools:
        payload["tools"] = [REGISTRY[name].schema() for name in tools if name in REGISTRY]
    if model.get("temperature") is not None:
        payload["temperature"] = model["temperature"]
    if model.get("max_tokens") is not None:
        payload["max_tokens"] = model["max_tokens"]
    headers = {"content-type": "application/json", "accept": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(f"{base_url}/chat/completions", data=json.dumps(payload).encode(),
                                     headers=headers, method="POST")
    try:
        with _no_redirect_opener().open(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            from .webhooks import shown

            raise ModelError(f"model endpoint answered {exc.code} redirecting to {shown(exc.headers.get('location'))}; "
                             "redirects are not followed (the API key goes to base_url only): set base_url to "
                             "the final URL") from None
        detail = _error_detail(exc)
        transient = exc.code == 429 or exc.code >= 500
        raise ModelError(f"model endpoint answered {exc.code}: {detail}", transient=transient) from None
    except TimeoutError:
        raise ModelTimeout() from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise ModelTimeout() from None
        raise ModelError(f"cannot reach the model endpoint {base_url}: {reason}", transient=True) from None
    return parse_chat_completion(raw)


def _error_detail(exc) -> str:
    try:
        data = json.loads(exc.read() or b"{}")
        message = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else data.get("error")
        return str(message or exc.reason)[:300]
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)[:300]


def parse_chat_completion(raw: bytes) -> ModelReply:
    try:
        data = json.loads(raw)
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ModelError("model endpoint answered something that is not a chat completion") from None
    calls = []
    for call in message.get("tool_calls") or ():
        try:
            function = call["function"]
            raw_args = function.get("arguments") or "{}"
            arguments = json.loads(raw_args) if isinstance(raw_args, str) else raw_args
        except (KeyError, TypeError, ValueError):
            arguments = {"_invalid_arguments": str(call)[:200]}
            function = call.get("function") or {} if isinstance(call, dict) else {}
        calls.append(ToolCall(id=str(call.get("id") or f"call_{len(calls) + 1}"), name=str(function.get("name", "")),
                              arguments=arguments if isinstance(arguments, dict) else {"value": arguments}))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ModelReply(content=message.get("content"), tool_calls=calls,
                      usage={k: v for k, v in usage.items() if isinstance(v, int)})
