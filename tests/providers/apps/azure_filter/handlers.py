"""Handlers of the Azure provider tests' second app (only deployed in previews, never run)."""

from __future__ import annotations


def intake(request):
    return {"status": 202}


def quick(message):
    return None


def slow(message):
    return None


def alert(message):
    return None


def archive(message):
    return None


def nightly(event):
    return None
