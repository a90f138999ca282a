"""Scheduled function with no shared imports."""


def run(event):
    return None
