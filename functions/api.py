"""HTTP API of the agent platform."""

from runtime import Router

app = Router()


@app.get("/health")
def health(request):
    return {"ok": True}
