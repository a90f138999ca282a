"""Queue worker: runs agent tasks."""


def run_task(message):
    return None
