"""Scheduled jobs: build the weekly report; refresh running totals."""

from __future__ import annotations

from datetime import timedelta

from runtime import Queue, Table

totals = Table("totals")
reports = Table("reports")
subscribers = Table("subscribers")
emails = Queue("emails")


def build(event):
    week = (event.time - timedelta(days=7)).strftime("%G-W%V")
    rows = totals.query("daily", prefix=week[:4]).items
    report = {"pk": "weekly", "sk": week, "orders": sum(r.get("orders", 0) for r in rows)}
    reports.put(report)
    for person in subscribers.query("all").items:
        emails.send({"to": person["email"], "subject": f"Report {week}", "orders": report["orders"]})


def refresh(event):
    day = event.time.strftime("%Y-%m-%d")
    current = totals.get("daily", day) or {"pk": "daily", "sk": day, "orders": 0}
    totals.put({**current, "refreshed_at": event.time.isoformat()})
