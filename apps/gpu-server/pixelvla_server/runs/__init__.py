"""Training and evaluation runs: SQLite registry, a queue with one job per device slot, runners."""
