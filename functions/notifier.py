"""Topic subscriber: delivers lifecycle events to webhooks."""


def deliver(message):
    return None
