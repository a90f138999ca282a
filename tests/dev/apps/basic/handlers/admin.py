"""A second HTTP function at /admin with fewer links than the api: proves per-function links."""

from __future__ import annotations

from runtime import LinkError, Queue, Response, Router, Table
from runtime.links import current_environ

app = Router()


@app.get("/whoami")
def whoami(request):
    return {"served_by": current_environ()["OMNICLOUD_FUNCTION"], "route_path": request.route_path,
            "path": request.path}


@app.post("/write")
def write(request):
    try:
        Table("items").put({"pk": "admin", "sk": "x"})
    except LinkError as exc:
        return Response.error(403, "not_granted", str(exc))
    return {"written": True}


@app.post("/send")
def send(request):
    try:
        Queue("jobs").send({"from": "admin"})
    except LinkError as exc:
        return Response.error(403, "not_linked", str(exc))
    return {"sent": True}
