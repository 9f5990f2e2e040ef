"""SQLite state of `coldlab serve`: the durable Event queue (queue.py), invocation records (records.py),
and opening the database safely (db.py). One module per table family; nothing here imports the platform."""
