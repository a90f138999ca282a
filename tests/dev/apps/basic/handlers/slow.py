"""An HTTP function that outlives its 1 s timeout."""

from __future__ import annotations

import time

from runtime import Router

app = Router()


@app.get("/")
def slow(request):
    time.sleep(2)
    return {"finished": True}
