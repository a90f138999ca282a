"""Upload API: records an image and queues its resize job."""

from __future__ import annotations

import uuid

from runtime import HTTPError, Queue, Router, Table

app = Router()
images = Table("images")
jobs = Queue("resize-jobs")


@app.post("/")
def create(request):
    body = request.json()
    if not isinstance(body, dict) or not body.get("url"):
        raise HTTPError(400, "bad_request", "send {\"url\": ...} of the image to resize")
    image_id = uuid.uuid4().hex
    images.put({"pk": image_id, "url": body["url"], "status": "queued"})
    jobs.send({"image_id": image_id, "sizes": body.get("sizes", [128, 512])})
    return {"id": image_id, "status": "queued"}


@app.get("/{image_id}")
def show(request, image_id):
    item = images.get(image_id)
    if item is None:
        raise HTTPError(404, "not_found", f"no image {image_id}")
    return item
