"""Fan-out on the local cloud: every subscriber gets its copy; the filter keeps the rest away."""

from __future__ import annotations

from omnicloud.testing import body


def test_each_subscriber_gets_what_its_filter_lets_through(cloud):
    auth = cloud.bearer("api-token")
    for kind, order in (
        ("order.placed", "o-1"),
        ("order.cancelled", "o-2"),
        ("order.placed", "o-3"),
    ):
        assert (
            cloud.http(
                "POST", "/events", json={"type": kind, "order_id": order}, headers=auth
            ).status
            == 202
        )
    deliveries = cloud.deliver()
    assert all(d.error is None for d in deliveries)
    assert sorted(d.function for d in deliveries) == [
        "audit",
        "audit",
        "audit",
        "shipping",
        "shipping",
    ]

    audited = body(cloud.http("GET", "/events", headers=auth))["items"]
    assert sorted(item["event"]["order_id"] for item in audited) == ["o-1", "o-2", "o-3"]
    shipped = body(cloud.http("GET", "/shipments", headers=auth))["items"]
    assert [item["sk"] for item in shipped] == ["o-1", "o-3"]


def test_a_redelivered_event_is_shipped_once(cloud):
    auth = cloud.bearer("api-token")
    cloud.http("POST", "/events", json={"type": "order.placed", "order_id": "o-9"}, headers=auth)
    (message,) = cloud.messages("order-events~shipping")  # the shipping subscription's own queue
    from functions.subscribers import ship

    with cloud.as_function("shipping"):
        ship(message)
        ship(message)  # the cloud may deliver it again
    assert len(body(cloud.http("GET", "/shipments", headers=auth))["items"]) == 1


def test_bad_events_are_refused_before_they_are_published(cloud):
    response = cloud.http(
        "POST", "/events", json={"type": "order.lost"}, headers=cloud.bearer("api-token")
    )
    assert response.status == 400
    assert cloud.messages("order-events~audit") == []
