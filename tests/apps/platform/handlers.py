"""Handlers of the platform tests' app: never run, only packaged and previewed."""


def app(request):
    return None


def work(message):
    return None


def notify(message):
    return None


def nightly(event):
    return None
