"""The local SQLite backend through the neutral clients: tables, queues, topics, secrets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from omnicloud.dev.app import LocalApp
from runtime import ConditionFailed, LinkError, Queue, Secret, Table, Topic
from runtime.backends import local
from runtime.backends.base import OutgoingMessage
from runtime.links import link_env, use_environ

from .conftest import APPS, wait_until


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def linked(state: Path, monkeypatch: pytest.MonkeyPatch):
    """A function environment linked to a table, a queue, a topic and a secret, on `state`."""
    monkeypatch.delenv("SIGNING_KEY", raising=False)
    environ = {
        "OMNICLOUD_CLOUD": "local",
        "OMNICLOUD_FUNCTION": "tester",
        local.STATE_DIR_ENV: str(state),
        local.DOTENV_ENV: str(state.parent / ".env"),
        **link_env("notes", "table", ["read", "write"], name="notes", partition_key="pk", sort_key="sk", ttl="expires_at"),
        **link_env("flat", "table", ["read", "write"], name="flat", partition_key="id"),
        **link_env("work", "queue", ["send"], name="work"),
        **link_env("events", "topic", ["publish"], name="events"),
        **link_env("signing-key", "secret", ["read"], env="SIGNING_KEY"),
    }
    with use_environ(environ):
        yield environ


def store(state: Path) -> local.Store:
    return local.Store.at(state)


# -- tables --------------------------------------------------------------------------------------


def test_conditional_writes_on_absence_and_version(linked):
    notes = Table("notes")
    first = notes.put({"pk": "a", "sk": "1", "text": "hi"}, if_absent=True)
    assert first["_version"] == 1
    with pytest.raises(ConditionFailed):
        notes.put({"pk": "a", "sk": "1", "text": "again"}, if_absent=True)
    assert notes.get("a", "1")["text"] == "hi"

    second = notes.put({**first, "text": "edited"}, expected_version=1)
    assert second["_version"] == 2
    with pytest.raises(ConditionFailed):  # a writer still holding version 1 loses
        notes.put({**first, "text": "stale"}, expected_version=1)
    assert notes.get("a", "1")["text"] == "edited"

    with pytest.raises(ConditionFailed):
        notes.delete("a", "1", expected_version=1)
    notes.delete("a", "1", expected_version=2)
    assert notes.get("a", "1") is None
    with pytest.raises(ConditionFailed):  # a versioned write of an item that is gone
        notes.put({"pk": "a", "sk": "1"}, expected_version=2)


def test_update_merges_and_deletes_attributes(linked):
    notes = Table("notes")
    notes.put({"pk": "a", "sk": "1", "keep": 1, "drop": 2})
    updated = notes.update("a", "1", {"drop": None, "new": 3})
    assert {k: v for k, v in updated.items() if k != "_version"} == {"pk": "a", "sk": "1", "keep": 1, "new": 3}
    assert notes.get("a", "1") == updated
    with pytest.raises(KeyError):
        notes.update("a", "missing", {"x": 1})


def test_query_pages_with_cursor_prefix_range_and_order(linked):
    notes = Table("notes")
    for i in range(7):
        notes.put({"pk": "p", "sk": f"task#{i:02d}", "n": i})
    notes.put({"pk": "p", "sk": "agent#1", "n": -1})
    notes.put({"pk": "other", "sk": "task#99", "n": 99})

    seen, cursor, pages = [], None, 0
    while True:
        page = notes.query("p", prefix="task#", limit=3, cursor=cursor)
        seen += [item["n"] for item in page]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == list(range(7)) and pages == 3

    newest = notes.query("p", prefix="task#", limit=2, descending=True)
    assert [item["n"] for item in newest] == [6, 5]
    after = notes.query("p", prefix="task#", limit=10, descending=True, cursor=newest.cursor)
    assert [item["n"] for item in after] == [4, 3, 2, 1, 0]

    ranged = notes.query("p", start="task#02", end="task#04")
    assert [item["n"] for item in ranged] == [2, 3, 4]
    # A cursor and a range bound on the same side: the tighter one holds, whichever it is.
    for descending, expected in ((False, [2, 3, 4, 5]), (True, [5, 4, 3, 2])):
        first = notes.query("p", start="task#02", end="task#05", limit=2, descending=descending)
        rest = notes.query("p", start="task#02", end="task#05", limit=10, descending=descending, cursor=first.cursor)
        assert [item["n"] for item in [*first, *rest]] == expected
    assert [item["n"] for item in notes.query("p")] == [-1, 0, 1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="cursor"):
        notes.query("other", cursor=newest.cursor)


def test_table_without_sort_key(linked):
    flat = Table("flat")
    flat.put({"id": "x", "v": 1})
    flat.put({"id": "x", "v": 2})
    assert flat.get("x")["v"] == 2
    assert [item["v"] for item in flat.query("x")] == [2]


def test_expired_items_are_hidden_then_purged(linked, state):
    notes = Table("notes")
    notes.put({"pk": "t", "sk": "old", "expires_at": time.time() - 1})
    notes.put({"pk": "t", "sk": "new", "expires_at": time.time() + 3600})
    assert notes.get("t", "old") is None
    assert [item["sk"] for item in notes.query("t")] == ["new"]
    assert store(state).purge_expired_items("notes", "expires_at") == 1
    assert store(state).table_get("notes", "t", "old") is None


def test_unlinked_table_and_missing_verb_are_refused(linked):
    with pytest.raises(LinkError, match="tester is not linked to table 'audit'"):
        Table("audit").get("x")
    with use_environ({**linked, **link_env("notes", "table", ["read"], name="notes")}):
        with pytest.raises(LinkError, match="may not write table 'notes'"):
            Table("notes").put({"pk": "a", "sk": "b"})


# -- queues --------------------------------------------------------------------------------------


def test_lease_hides_message_until_visibility_timeout(linked, state):
    Queue("work").send({"job": 1})
    db = store(state)
    [first] = db.receive("work", visibility_timeout=0.3, owner="me")
    assert first.to_message().json() == {"job": 1} and first.receive_count == 1
    assert db.receive("work", visibility_timeout=0.3) == []  # leased: invisible to others
    again = wait_until(lambda: db.receive("work", visibility_timeout=30), 5, "the lease to expire")
    assert again[0].id == first.id and again[0].receive_count == 2
    assert not db.ack(first.id, first.lease)  # the stale lease can no longer delete it
    assert db.ack(again[0].id, again[0].lease)
    assert db.peek("work") == []


def test_release_with_backoff_and_dead_letter_after_max_receives(linked, state):
    message_id = Queue("work").send("payload")
    db = store(state)
    [msg] = db.receive("work", max_receives=2)
    assert db.release(msg.id, msg.lease, delay=0.2, error="boom")
    assert db.receive("work", max_receives=2) == []  # backing off
    [msg] = wait_until(lambda: db.receive("work", max_receives=2), 5, "the retry")
    assert msg.receive_count == 2
    db.release(msg.id, msg.lease)
    # Received twice already: with max_receives=2 it goes to the DLQ instead of a third delivery.
    assert db.receive("work", max_receives=2) == []
    [dead] = db.peek("work-dlq")
    assert dead.id == message_id and dead.body == b"payload" and dead.last_error == "boom"


def test_delay_and_dedup(linked, state):
    queue = Queue("work")
    delayed = queue.send({"later": True}, delay_seconds=1)
    first = queue.send({"n": 1}, dedup_id="order-7")
    assert queue.send({"n": 2}, dedup_id="order-7") == first
    db = store(state)
    ready = db.receive("work", max_messages=10)
    assert [m.id for m in ready] == [first]
    later = wait_until(lambda: db.receive("work", max_messages=10), 5, "the delayed message")
    assert [m.id for m in later] == [delayed]
    with pytest.raises(ValueError):
        queue.send({}, delay_seconds=901)


def test_leases_of_a_dead_server_are_released_without_using_a_retry(linked, state):
    Queue("work").send("in flight")
    db = store(state)
    [msg] = db.receive("work", visibility_timeout=3600, owner="dead-server")
    assert db.receive("work") == []
    assert db.release_leases(refund=True) == 1
    [again] = db.receive("work")
    assert again.id == msg.id and again.receive_count == 1


def test_message_carries_attributes_and_trace(linked, state):
    Queue("work").send({"a": 1}, attributes={"type": "x"})
    [msg] = store(state).receive("work")
    message = msg.to_message()
    assert message.attributes["type"] == "x"
    assert message.source == "work" and message.delivery_attempt == 1


# -- topics --------------------------------------------------------------------------------------


def test_publish_fans_out_to_matching_subscriptions_only(linked, state):
    db = store(state)
    db.set_subscriptions([("events", "all", {}), ("events", "tasks", {"type": ["task.done", "task.failed"]}),
                          ("events", "agents", {"type": "agent.created"}), ("other", "x", {})])
    Topic("events").publish({"n": 1}, attributes={"type": "task.done"})
    Topic("events").publish({"n": 2}, attributes={"type": "agent.created"})
    Topic("events").publish({"n": 3})

    def bodies(subscriber: str) -> list[int]:
        return [m.to_message().json()["n"] for m in db.peek(local.subscription_queue("events", subscriber))]

    assert bodies("all") == [1, 2, 3]
    assert bodies("tasks") == [1]
    assert bodies("agents") == [2]
    assert db.peek("other~x") == []
    [message] = db.peek("events~tasks")
    assert message.source == "events"


def test_publish_is_one_transaction(linked, state, monkeypatch):
    db = store(state)
    db.set_subscriptions([("events", "a", {}), ("events", "b", {})])
    real_send, calls = local.Store.send, []

    def failing_second(self, queue, messages, **kwargs):
        calls.append(queue)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_send(self, queue, messages, **kwargs)

    monkeypatch.setattr(local.Store, "send", failing_second)
    with pytest.raises(OSError):
        Topic("events").publish({"n": 1})
    monkeypatch.setattr(local.Store, "send", real_send)
    assert len(calls) == 2
    assert db.peek("events~a") == [] and db.peek("events~b") == []  # the first copy was rolled back


def test_store_is_safe_across_threads(state):
    import threading

    db = store(state)
    errors = []

    def send(n: int) -> None:
        try:
            for i in range(20):
                db.send("busy", [OutgoingMessage(body=f"{n}-{i}".encode())])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.queues()["busy"].ready == 80


# -- secrets -------------------------------------------------------------------------------------


def test_secret_from_environment_then_dotenv(linked, state, monkeypatch):
    dotenv = state.parent / ".env"
    dotenv.write_text("SIGNING_KEY=from-dotenv\n")
    assert Secret("signing-key", ttl=0).value() == "from-dotenv"
    monkeypatch.setenv("SIGNING_KEY", "from-env")
    assert Secret("signing-key", ttl=0).value() == "from-env"


def test_secret_without_value_is_a_clear_error(linked):
    with pytest.raises(LinkError, match="set SIGNING_KEY in the environment or in the app's .env"):
        Secret("signing-key").value()


def test_dev_generates_missing_secret_once_and_keeps_it(tmp_path, monkeypatch):
    monkeypatch.delenv("GREETING", raising=False)
    state = tmp_path / "state"
    [first] = LocalApp(APPS / "basic" / "app.yaml", state).secrets()
    assert first.origin == "generated" and first.newly_generated and len(first.value) >= 20
    [again] = LocalApp(APPS / "basic" / "app.yaml", state).secrets()
    assert again.value == first.value and not again.newly_generated
    monkeypatch.setenv("GREETING", "chosen")
    [chosen] = LocalApp(APPS / "basic" / "app.yaml", state).secrets()
    assert (chosen.value, chosen.origin) == ("chosen", "environment")


def test_function_environment_holds_only_its_links(tmp_path):
    app = LocalApp(APPS / "basic" / "app.yaml", tmp_path / "state")
    admin = app.function_env("admin")
    assert {k for k in admin if k.startswith("OMNICLOUD_LINK_")} == {"OMNICLOUD_LINK_ITEMS"}
    assert admin["OMNICLOUD_HTTP_PREFIX"] == "/admin" and admin["OMNICLOUD_TRIGGER"] == "http"
    assert app.function_env("api")["GREETING_STYLE"] == "plain"
    assert "GREETING_STYLE" not in admin
    assert app.route("/admin") == "admin" and app.route("/admin/x") == "admin"
    assert app.route("/administrator") == "api" and app.route("/") == "api"


def _dead(db: local.Store, queue: str, body: bytes, error: str) -> str:
    [message_id] = db.send(queue, [OutgoingMessage(body=body)])
    [msg] = db.receive(queue, owner="t")
    db.dead_letter(msg.id, msg.lease, error=error)
    return message_id


def test_redrive_moves_dead_letters_back_ready_with_deliveries_counted_afresh(state):
    db = store(state)
    woken = []
    db.on_enqueue(lambda queue, count: woken.append((queue, count)))
    first, second = _dead(db, "work", b"one", "boom 1"), _dead(db, "work", b"two", "boom 2")
    assert db.count("work-dlq") == 2 and db.count("work") == 0
    assert db.redrive("work", [first, "not-there"]) == 1
    [back] = db.peek("work")
    assert back.id == first and back.receive_count == 0 and back.last_error == "boom 1" and back.lease is None
    assert [m.id for m in db.peek("work-dlq")] == [second]
    assert db.redrive("work") == 1 and db.count("work-dlq") == 0 and db.count("work") == 2
    assert ("work", 1) in woken  # the consumers are woken, not left to their next poll
    [again] = db.receive("work", max_messages=1, owner="t", max_receives=1)
    assert again.receive_count == 1  # a full set of retries


def test_browse_pages_a_queue_in_arrival_order_without_leasing(state):
    db = store(state)
    ids = db.send("work", [OutgoingMessage(body=str(n).encode()) for n in range(7)])
    first = db.browse("work", limit=3)
    assert [m.id for _, m in first] == ids[:3]
    rest = db.browse("work", limit=10, after=first[-1][0])
    assert [m.id for _, m in rest] == ids[3:]
    assert db.message("work", ids[4]).body == b"4" and db.message("work-dlq", ids[4]) is None
    assert len(db.receive("work", max_messages=10)) == 7  # nothing was leased by browsing


def test_table_partitions_are_listed_in_order_by_prefix_and_page(state):
    db = store(state)
    for pk in ("a", "b#1", "b#2", "b#3", "c"):
        for sk in range(3):
            db.table_put("t", pk, str(sk), {"pk": pk, "sk": str(sk)})
    db.table_put("other", "b#9", "x", {"pk": "b#9"})
    assert db.table_partitions("t") == ["a", "b#1", "b#2", "b#3", "c"]
    assert db.table_partitions("t", prefix="b#") == ["b#1", "b#2", "b#3"]
    assert db.table_partitions("t", prefix="b#", limit=2) == ["b#1", "b#2"]
    assert db.table_partitions("t", prefix="b#", after="b#2") == ["b#3"]
    assert db.table_partitions("t", after="b#3") == ["c"]
    assert db.table_partitions("t", prefix="z") == []
    assert db.table_count("t") == 15 and db.table_count("nothing") == 0


def test_fan_out_says_which_subscriptions_took_the_message(state):
    db = store(state)
    db.set_subscriptions([("events", "all", {}), ("events", "paid", {"type": ["order.paid"]})])
    _, delivered = db.fan_out("events", OutgoingMessage(body=b"{}", attributes={"type": "order.new"}))
    assert delivered == ["events~all"]
    _, delivered = db.fan_out("events", OutgoingMessage(body=b"{}", attributes={"type": "order.paid"}))
    assert sorted(delivered) == ["events~all", "events~paid"]
