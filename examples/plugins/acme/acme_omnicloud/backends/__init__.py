"""One backend per cloud (and `local` for `omnicloud dev`): `bucket(link)` makes the object the
client calls (put, get, delete, list). SDKs are imported on first use, clients kept while warm."""
