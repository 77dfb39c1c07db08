"""The run registry: one SQLite table (stdlib sqlite3, WAL), the single source of truth for run state.

Run folders hold what the run itself writes (metrics.jsonl, checkpoints/, log.txt, exit.json); the
registry holds what the server decided (status, pid, attempts). Every write is one short transaction,
so a crash at any point leaves a consistent row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
STAGES = ("base", "stage1", "stage2", "eval")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    stage TEXT NOT NULL,
    base_checkpoint TEXT,
    dataset TEXT,
    overrides TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    pid INTEGER,
    pid_start TEXT,
    backend_job TEXT,
    exit_code INTEGER,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    resume INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
"""


@dataclass
class RunRecord:
    id: str
    name: str
    stage: str
    base_checkpoint: str | None
    dataset: str | None
    overrides: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    pid: int | None = None
    pid_start: str | None = None
    backend_job: str | None = None
    exit_code: int | None = None
    error: str | None = None
    attempts: int = 0
    resume: bool = False

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        d = dict(row)
        d["overrides"] = json.loads(d["overrides"])
        d["resume"] = bool(d["resume"])
        return cls(**d)


class RunRegistry:
    def __init__(self, db_path: Path):
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the scheduler thread and request handlers; the lock serialises it.
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(
        self,
        *,
        stage: str,
        name: str | None,
        base_checkpoint: str | None,
        dataset: str | None,
        overrides: dict[str, Any],
    ) -> RunRecord:
        now = time.time()
        rid = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + uuid.uuid4().hex[:6]
        rec = RunRecord(
            id=rid,
            name=name or f"{stage} {rid}",
            stage=stage,
            base_checkpoint=base_checkpoint,
            dataset=dataset,
            overrides=overrides,
            created_at=now,
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO runs (id, name, stage, base_checkpoint, dataset, overrides, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
                (rid, rec.name, stage, base_checkpoint, dataset, json.dumps(overrides), now),
            )
        return rec

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return RunRecord.from_row(row) if row else None

    def find(self, status: str | None = None) -> list[RunRecord]:
        with self._lock:
            if status:
                rows = self._db.execute(
                    "SELECT * FROM runs WHERE status = ? ORDER BY created_at DESC", (status,)
                ).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM runs ORDER BY created_at DESC").fetchall()
        return [RunRecord.from_row(r) for r in rows]

    def queued(self) -> list[RunRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE status = 'queued' ORDER BY created_at ASC"
            ).fetchall()
        return [RunRecord.from_row(r) for r in rows]

    _COLUMNS = frozenset(
        {
            "status",
            "started_at",
            "finished_at",
            "pid",
            "pid_start",
            "backend_job",
            "exit_code",
            "error",
            "attempts",
            "resume",
        }
    )

    def update(self, run_id: str, *, expect: str | None = None, **fields: Any) -> bool:
        """Set fields; with `expect`, only if the status is still that (compare-and-set). True if changed."""
        bad = set(fields) - self._COLUMNS
        if bad:
            raise KeyError(f"not updatable: {sorted(bad)}")
        cols = ", ".join(f"{k} = ?" for k in fields)
        args: list[Any] = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        sql = f"UPDATE runs SET {cols} WHERE id = ?"
        args.append(run_id)
        if expect is not None:
            sql += " AND status = ?"
            args.append(expect)
        with self._lock:
            cur = self._db.execute(sql, args)
        return cur.rowcount == 1

    def delete(self, run_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return cur.rowcount == 1
