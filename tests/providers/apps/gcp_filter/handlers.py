"""Handlers of the gcp_filter test app (never run by the provider tests; they only need to exist)."""


def web(request):
    return {"ok": True}


def admin(request):
    return {"admin": True}


def on_event(message):
    return None


def on_job(message):
    return None


def weekly(event):
    return None
