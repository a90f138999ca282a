"""The audit subscriber of code_names_unlinked.yaml: linked to the table it uses."""

from .shared import audit


def handle(message):
    audit.put({"pk": message.id})
