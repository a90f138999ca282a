"""Topic subscriber: adds each resized image to the catalogue."""

from __future__ import annotations

from runtime import Table

catalogue = Table("catalogue")


def index(message):
    event = message.json()
    catalogue.put({"pk": "images", "sk": event["image_id"], "thumbnails": event["thumbnails"]})
