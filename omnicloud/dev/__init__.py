"""`omnicloud dev` and `omnicloud invoke`: the whole app on a laptop, on the local SQLite backend."""
