"""Queue function."""

from shop.common import greeting


def handle(message):
    if message.json().get("fail"):
        raise RuntimeError("asked to fail")
    greeting("job")
