"""A small router for a function's http prefix: path params, methods, JSON errors, no tracebacks."""

from __future__ import annotations

from .types import BadRequest, Request, Response

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the cold path
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

    Handler = Callable[..., Response | dict | list | str | bytes | None]


class HTTPError(Exception):
    """Raise from a route to answer `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        return Response.error(self.status, self.code, self.message, dict(self.headers))


_PARAM = r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}"  # compiled (and cached by re) when a route with parameters first is


class Route:
    """One registered route: method, path template, the handler, and its pattern, compiled when a
    request first reaches it (a cold start pays for the routes it tries, not for every route)."""

    __slots__ = ("method", "template", "pattern", "handler", "literal")

    def __init__(self, method: str, template: str, handler: Handler):
        self.method = method
        self.template = template
        self.pattern: re.Pattern[str] | None = None
        self.handler = handler
        # A template without parameters is matched without its pattern: the paths the pattern
        # matches (the optional trailing slash, and `$` before a final newline), as a set.
        self.literal = (None if "{" in template else
                        frozenset((template, template + "/", template + "\n", template + "/\n")))

    def compile(self) -> re.Pattern[str]:
        self.pattern = _compile(self.template)
        return self.pattern

    def __repr__(self) -> str:
        return f"Route({self.method} {self.template} -> {getattr(self.handler, '__qualname__', self.handler)!r})"


def _compile(template: str) -> re.Pattern[str]:
    import re  # only for templates with parameters, when a request first reaches one

    out, pos = [], 0
    for match in re.finditer(_PARAM, template):
        out.append(re.escape(template[pos : match.start()]))
        out.append(f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)")
        pos = match.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out) + "/?$")


def _normalized_prefix(prefix: str, _cache: dict[str, str] = {}) -> str:  # noqa: B006  (a memo)
    normalized = _cache.get(prefix)
    if normalized is None:
        normalized = "/" + prefix.strip("/") if prefix.strip("/") else ""
        if len(_cache) < 256:
            _cache[prefix] = normalized
    return normalized


class Router:
    """Routes requests below the function's http prefix to handlers.

    ``@app.get("/agents/{agent_id}")`` handlers take ``(request, **path_params)`` and return a
    Response, or a dict/list (sent as JSON 200), or None (204).
    """

    def __init__(self, prefix: str | None = None):
        self._prefix = prefix
        self.routes: list[Route] = []
        self._before: list[Callable[[Request], Response | None]] = []
        self._after: list[Callable[[Request, Response], Response | None]] = []

    @property
    def prefix(self) -> str:
        if self._prefix is not None:
            return _normalized_prefix(self._prefix)
        # Under `omnicloud dev` each function's prefix is in its own environment (runtime.links).
        from .links import current_environ

        return _normalized_prefix(current_environ().get("OMNICLOUD_HTTP_PREFIX", "/"))

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for verb in method.upper().split(","):
                self.routes.append(Route(verb.strip(), template, handler))
            return handler

        return register

    def get(self, template: str):
        return self.route("GET", template)

    def post(self, template: str):
        return self.route("POST", template)

    def put(self, template: str):
        return self.route("PUT", template)

    def patch(self, template: str):
        return self.route("PATCH", template)

    def delete(self, template: str):
        return self.route("DELETE", template)

    def before(self, hook: Callable[[Request], Response | None]) -> Callable[[Request], Response | None]:
        """Run `hook` before every route; a Response it returns is sent instead."""
        self._before.append(hook)
        return hook

    def after(self, hook: Callable[[Request, Response], Response | None]) -> Callable[[Request, Response], Response | None]:
        """Run `hook(request, response)` on every answer, errors and 404s included (e.g. to add
        security headers); a Response it returns is sent instead."""
        self._after.append(hook)
        return hook

    def relative_path(self, path: str) -> str:
        prefix = self.prefix
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            path = path[len(prefix) :]
        return path or "/"

    def __call__(self, request: Request) -> Response:
        try:
            response = self._dispatch(request)
        except HTTPError as exc:
            response = exc.response()
        except BadRequest as exc:
            response = Response.error(400, "bad_request", str(exc))
        except Exception:
            from .log import get_logger  # only for a bug: logging is not on the cold path

            get_logger("omnicloud.router").exception("unhandled error in %s %s", request.method, request.path)
            response = Response.error(500, "internal", "internal error; the log has the details")
        for hook in self._after:
            response = hook(request, response) or response
        return response

    def _dispatch(self, request: Request) -> Response:
        path = self.relative_path(request.route_path or request.path)
        request.route_path = path
        allowed: list[str] = []
        for route in self.routes:
            if route.literal is not None:
                if path not in route.literal:
                    continue
                params: dict[str, str] = {}
            else:
                match = (route.pattern or route.compile()).match(path)
                if not match:
                    continue
                params = match.groupdict()
            if route.method != request.method and not (route.method == "GET" and request.method == "HEAD"):
                allowed.append(route.method)
                continue
            request.path_params = params
            for hook in self._before:
                early = hook(request)
                if early is not None:
                    return early
            return as_response(route.handler(request, **request.path_params))
        # Messages name the path the client sent (prefix included), not the one routed on.
        if allowed:
            return Response.error(
                405, "method_not_allowed",
                f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(set(allowed)))}",
                headers={"allow": ", ".join(sorted(set(allowed)))},
            )
        return Response.error(404, "not_found", f"no route for {request.method} {request.path}")


def as_response(result: object) -> Response:
    """What a handler returned, as a Response (dict/list -> JSON 200, None -> 204)."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status=204)
    if isinstance(result, (dict, list)):
        return Response.json(result)
    return Response(status=200, body=result)
