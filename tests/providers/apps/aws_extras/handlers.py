"""Handlers of the AWS provider tests' second app (only deployed in previews, never run)."""

from __future__ import annotations


def intake(request):
    return {"status": 202}


def crunch(message):
    return None


def alert(message):
    return None


def nightly(event):
    return None


def weekend(event):
    return None
