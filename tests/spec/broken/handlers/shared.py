"""A module two functions import: a name there is checked for each of them."""

from runtime.clients import Table as T

audit = T("audit-logs")  # misspelt: neither function is linked to it
