"""Submit jobs and read their results.

GET  /health                     no token needed
POST /jobs?delay=SECONDS         {"text"} -> 202 {"id", "status": "queued"}; delay 0..900
GET  /jobs/{job_id}              {"id", "status": "queued"|"done", "text", "result"}
"""

from __future__ import annotations

import uuid

from runtime import HTTPError, Queue, Request, Response, Router, Table

from .auth import protect
from .jobs import PARTITION, public, record

app = protect(Router())  # the api-token check, and GET /health
jobs = Queue("jobs")
results = Table("results")


@app.post("/jobs")
def submit(request: Request) -> Response:
    doc = request.json()
    text = doc.get("text") if isinstance(doc, dict) else None
    if not isinstance(text, str) or not 1 <= len(text) <= 10_000:
        raise HTTPError(400, "invalid", 'send {"text": "..."} with 1 to 10000 characters')
    delay = request.query.get("delay", "0")
    if not delay.isdigit() or int(delay) > 900:
        raise HTTPError(400, "invalid", "delay must be a whole number of seconds from 0 to 900")
    job_id = uuid.uuid4().hex
    results.put(record(job_id, "queued", text=text), if_absent=True)
    # The job id travels as a message attribute too, so logs and dead letters show it unparsed.
    jobs.send(
        {"job_id": job_id, "text": text}, delay_seconds=int(delay), attributes={"job-id": job_id}
    )
    return Response.json({"id": job_id, "status": "queued"}, status=202)


@app.get("/jobs/{job_id}")
def status(request: Request, job_id: str) -> dict:
    item = results.get(PARTITION, job_id)
    if item is None:
        raise HTTPError(404, "not_found", f"no job {job_id}")
    return public(item)
