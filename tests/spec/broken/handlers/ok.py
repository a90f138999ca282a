"""A valid handler module for the corpus."""

from runtime import Router

app = Router()


def handle(message):
    return None
