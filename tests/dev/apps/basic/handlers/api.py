"""The test app's main HTTP function: talks to every kind of resource it is linked to."""

from __future__ import annotations

from runtime import LinkError, Queue, Response, Router, Secret, Table, Topic
from runtime.links import current_environ

app = Router()
items = Table("items")
jobs = Queue("jobs")
events = Topic("events")
greeting = Secret("greeting", ttl=0)


@app.get("/whoami")
def whoami(request):
    env = current_environ()
    return {"served_by": env["OMNICLOUD_FUNCTION"], "route_path": request.route_path, "path": request.path,
            "trigger": env["OMNICLOUD_TRIGGER"], "style": env.get("GREETING_STYLE"),
            "links": sorted(k for k in env if k.startswith("OMNICLOUD_LINK_"))}


@app.get("/hello")
def hello(request):
    return {"greeting": greeting.value()}


@app.post("/jobs")
def send_job(request):
    body = request.json()
    return Response.json({"id": jobs.send(body)}, status=202)


@app.post("/events")
def publish(request):
    body = request.json()
    return Response.json({"id": events.publish(body, attributes=body.get("attributes", {}))}, status=202)


@app.get("/items/{pk}")
def list_items(request, pk):
    return {"items": items.query(pk).items}


@app.get("/forbidden")
def forbidden(request):
    try:
        Table("secret-stuff").get("x")
    except LinkError as exc:
        return Response.error(403, "not_linked", str(exc))
    return {"reached": True}
