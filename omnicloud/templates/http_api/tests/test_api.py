"""The API on the local cloud: auth, create/read/list with a cursor, If-Match, delete."""

from __future__ import annotations

from omnicloud.testing import body


def test_health_needs_no_token(cloud):
    assert cloud.http("GET", "/health").status == 200


def test_every_other_route_needs_the_token(cloud):
    assert cloud.http("GET", "/items").status == 401
    assert cloud.http("GET", "/items", headers={"authorization": "Bearer wrong"}).status == 401
    assert cloud.http("GET", "/items", headers=cloud.bearer("api-token")).status == 200


def test_create_read_and_list_a_page_at_a_time(cloud):
    auth = cloud.bearer("api-token")
    created = [
        body(cloud.http("POST", "/items", json={"name": f"item {i}"}, headers=auth))
        for i in range(3)
    ]
    assert all(item["version"] == 1 for item in created)

    read = cloud.http("GET", f"/items/{created[0]['id']}", headers=auth)
    assert read.status == 200 and read.headers["etag"] == '"1"' and body(read)["name"] == "item 0"

    first = body(cloud.http("GET", "/items", query={"limit": "2"}, headers=auth))
    second = body(
        cloud.http(
            "GET", "/items", query={"limit": "2", "cursor": first["next_cursor"]}, headers=auth
        )
    )
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None
    assert {i["id"] for i in first["items"] + second["items"]} == {i["id"] for i in created}


def test_a_stale_if_match_is_refused_with_412(cloud):
    auth = cloud.bearer("api-token")
    item = body(cloud.http("POST", "/items", json={"name": "draft"}, headers=auth))
    path = f"/items/{item['id']}"
    updated = cloud.http("PUT", path, json={"name": "final"}, headers={**auth, "if-match": '"1"'})
    assert updated.status == 200 and updated.headers["etag"] == '"2"'

    stale = cloud.http("PUT", path, json={"name": "lost"}, headers={**auth, "if-match": '"1"'})
    assert stale.status == 412
    assert body(cloud.http("GET", path, headers=auth))["name"] == "final"


def test_delete_then_the_item_is_gone(cloud):
    auth = cloud.bearer("api-token")
    item = body(cloud.http("POST", "/items", json={"name": "temporary"}, headers=auth))
    assert cloud.http("DELETE", f"/items/{item['id']}", headers=auth).status == 204
    assert cloud.http("GET", f"/items/{item['id']}", headers=auth).status == 404


def test_bad_input_is_a_400_with_one_clear_message(cloud):
    auth = cloud.bearer("api-token")
    response = cloud.http("POST", "/items", json={"name": ""}, headers=auth)
    assert response.status == 400 and "name" in body(response)["error"]["message"]
    assert cloud.http("POST", "/items", body="not json", headers=auth).status == 400
