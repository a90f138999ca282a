"""The API of code_names_unlinked.yaml: resource names in code, some of them wrong."""

from runtime import Router, Table
from runtime import clients as rc

from . import shared  # noqa: F401 - imported by the audit function too
from .store import Secret

app = Router()
agents = Table("agnets")  # misspelt: the function is linked to 'agents'
placed = rc.Topic("order-events")  # linked: fine
wrong = Table("order-events")  # a topic, not a table
jobs = rc.Queue(name="jobs")  # declared nowhere
token = Secret("api-token")  # declared, not linked; Secret comes through store.py
table_name = "agents"
by_name = Table(table_name)  # not a literal: not guessed
