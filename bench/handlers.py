"""The neutral handlers the cold-start and warm-overhead benchmarks drive on every adapter.

They do the same small piece of work as the peers' handlers: parse a JSON body, answer JSON;
read a message body.
"""

from __future__ import annotations

from runtime import Message, Request, Router

app = Router(prefix="/")


@app.post("/my/path")
def post(request: Request) -> dict:
    return {"ok": True, "message": request.json()["message"]}


@app.get("/agents/{agent_id}")
def get_agent(request: Request, agent_id: str) -> dict:
    return {"id": agent_id}


def consume(message: Message) -> None:
    if not message.body:
        raise ValueError("empty message")
