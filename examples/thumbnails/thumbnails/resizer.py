"""Queue worker: makes the thumbnails of one image and announces them."""

from __future__ import annotations

from runtime import Table, Topic

images = Table("images")
events = Topic("image-events")


def resize(message):
    job = message.json()
    image = images.get(job["image_id"])
    if image is None:
        return None  # deleted meanwhile; nothing to do
    thumbnails = {str(size): f"{image['url']}?w={size}" for size in job["sizes"]}
    images.update(job["image_id"], changes={"status": "ready", "thumbnails": thumbnails})
    events.publish({"image_id": job["image_id"], "thumbnails": thumbnails}, attributes={"type": "image.resized"})
    return None
