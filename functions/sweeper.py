"""Scheduled sweeper: times out stuck tasks."""


def sweep(event):
    return None
