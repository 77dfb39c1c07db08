"""The run registry: one SQLite table (stdlib sqlite3, WAL), the single source of truth for run state.

Run folders hold what the run itself writes (metrics.jsonl, checkpoints/, log.txt, exit.json); the
registry holds what the server decided (status, pid, attempts). Every write is one short transaction,
so a crash at any point leaves a consistent row.

A damaged file is never served as if it were whole. Opening runs `PRAGMA quick_check`:
- a file SQLite cannot open at all (not a database, e.g. random bytes; unreadable) is a startup error
  (RegistryUnreadable, a ConfigError: the CLI prints it and exits 2) that names the file and says to
  move it aside or restore it;
- a database with damaged pages opens read-only and *degraded*: `problems` says what is wrong
  (/healthz reports it), every write raises RegistryDegraded (503 `registry_degraded`), and reads
  return the rows that can still be read (table scans from both ends plus lookups through the id index).
Damage found later, by a query, degrades the registry the same way.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..config import ConfigError
from ..errors import ApiError

log = logging.getLogger("pixelvla_server.runs")

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
STAGES = ("base", "stage1", "stage2", "eval")
# SQLite's primary result codes for a damaged file (extended codes add suffixes: SQLITE_CORRUPT_INDEX).
_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")

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
_ID_INDEX = "sqlite_autoindex_runs_1"  # SQLite's own index of the TEXT PRIMARY KEY

T = TypeVar("T")


class RegistryUnreadable(ConfigError):
    """The registry file cannot be opened as a SQLite database at all: the server does not start."""


class RegistryDegraded(ApiError):
    """The registry is damaged and read-only: whatever would write to it is refused."""

    status = 503
    code = "registry_degraded"


class RegistryRowError(ValueError):
    """A stored row does not decode into a run (a value the server never writes)."""


def _is_damage(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_DAMAGE)


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
        """Checks what the routes rely on (stage, status, overrides object), so a bad stored value is
        a RegistryRowError here rather than a 500 when a run is listed or a wrong launch later."""
        d = dict(row)
        rid = d.get("id")
        try:
            overrides = json.loads(d["overrides"])
        except (TypeError, ValueError) as exc:
            raise RegistryRowError(f"run {rid!r}: stored overrides are not JSON ({exc})") from exc
        if not isinstance(overrides, dict):
            raise RegistryRowError(f"run {rid!r}: stored overrides are not a JSON object")
        if d.get("stage") not in STAGES:
            raise RegistryRowError(f"run {rid!r}: stored stage {d.get('stage')!r} is not one of {STAGES}")
        if d.get("status") not in STATUSES:
            raise RegistryRowError(f"run {rid!r}: stored status {d.get('status')!r} is not one of {STATUSES}")
        d["overrides"] = overrides
        d["resume"] = bool(d["resume"])
        try:
            return cls(**d)
        except TypeError as exc:
            raise RegistryRowError(f"run {rid!r}: stored row does not match the schema ({exc})") from exc


class RunRegistry:
    def __init__(self, db_path: Path):
        self.path = db_path
        self.problems: list[str] = []
        self._lost: set[str] = set()  # ids the id index knows whose rows cannot be read
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the scheduler thread and request handlers; the lock serialises it.
        try:
            self._db = sqlite3.connect(
                str(db_path), check_same_thread=False, isolation_level=None, timeout=10
            )
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            try:
                self._check_integrity()
                if not self.problems:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                    self._db.executescript(_SCHEMA)
            except sqlite3.Error as exc:
                if not _is_damage(exc) or getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
                    self._db.close()
                    raise self._unreadable(exc) from exc
                self._degrade(f"{exc} (while opening it)")
        if self.problems:
            log.error(
                "run registry is damaged: serving it read-only",
                extra={"path": str(db_path), "problems": self.problems},
            )

    def _unreadable(self, exc: sqlite3.Error) -> RegistryUnreadable:
        p = self.path
        return RegistryUnreadable(
            f"the run registry {p} cannot be opened ({exc}): it is damaged or not a SQLite database. "
            f"Stop the server, move it aside with its -wal/-shm files (`mv {p} {p}.broken`; the same "
            f"for {p.name}-wal and {p.name}-shm if present) to start with an empty run history, or "
            "restore it from a backup; the run folders are kept either way"
        )

    def _check_integrity(self) -> None:
        rows = [str(r[0]) for r in self._db.execute("PRAGMA quick_check").fetchall()]
        if rows != ["ok"]:
            self._degrade(*(f"quick_check: {r}" for r in rows[:20]))

    def _degrade(self, *problems: str) -> None:
        """Switch to read-only (SQLite refuses writes too: query_only). Call with the lock held."""
        if not self.problems:
            problems = (f"run registry {self.path} is damaged; it is read-only until replaced", *problems)
        self.problems.extend(p for p in problems if p not in self.problems)
        with suppress(sqlite3.Error):
            self._db.execute("PRAGMA query_only = ON")

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    def require_writable(self) -> None:
        if self.problems:
            raise RegistryDegraded(
                f"the run registry {self.path} is damaged and read-only, so runs cannot be launched or "
                "changed (the problems are in /healthz and in this error's detail). Stop the server, "
                "then restore the file from a backup or move it aside to start with an empty history",
                detail={"problems": list(self.problems)},
            )

    @contextmanager
    def _locked(self, write: bool) -> Iterator[sqlite3.Connection]:
        """The connection under the lock; damage found by the query degrades the registry."""
        with self._lock:
            if write:
                self.require_writable()
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                if not _is_damage(exc):
                    raise
                self._degrade(str(exc))
                raise RegistryDegraded(
                    f"the run registry {self.path} is damaged: {exc}",
                    detail={"problems": list(self.problems)},
                ) from exc

    def _rows(
        self, read: Callable[[sqlite3.Connection], list[sqlite3.Row]], keep: Callable[[RunRecord], bool]
    ) -> list[RunRecord]:
        """Decoded rows of `read`; on a damaged file, the salvaged rows that `keep` selects. A row that
        does not decode is left out and degrades the registry."""
        salvaged = False
        try:
            with self._locked(write=False) as db:
                rows = read(db)
        except RegistryDegraded:
            rows, salvaged = self._salvage(), True
        out = []
        for row in rows:
            try:
                rec = RunRecord.from_row(row)
            except RegistryRowError as exc:
                with self._lock:
                    self._degrade(str(exc))
                continue
            if not salvaged or keep(rec):
                out.append(rec)
        return out

    def _salvage(self) -> list[sqlite3.Row]:
        """Every row that can still be read from a damaged file: both ends of the table (a scan
        stops at the first bad page), then the ids the id index still knows, looked up one by one."""
        found: dict[str, sqlite3.Row] = {}
        with self._lock:
            for sql in (
                "SELECT * FROM runs NOT INDEXED",
                "SELECT * FROM runs NOT INDEXED ORDER BY rowid DESC",
            ):
                for row in self._partial(sql):
                    found.setdefault(str(row["id"]), row)
            ids = [str(r[0]) for r in self._partial(f"SELECT id FROM runs INDEXED BY {_ID_INDEX}")]
            for rid in ids:
                if rid in found:
                    continue
                try:
                    hit = self._db.execute("SELECT * FROM runs WHERE id = ?", (rid,)).fetchone()
                except sqlite3.DatabaseError:
                    hit = None
                if hit is None:
                    self._lost.add(rid)
                else:
                    found[rid] = hit
            if self._lost:
                self._degrade(f"{len(self._lost)} run(s) listed in the id index cannot be read")
        return list(found.values())

    def _partial(self, sql: str) -> list[sqlite3.Row]:
        out: list[sqlite3.Row] = []
        try:
            for row in self._db.execute(sql):
                out.append(row)
        except sqlite3.DatabaseError:
            pass  # the rows before the damage are still good
        return out

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
        with self._locked(write=True) as db:
            db.execute(
                "INSERT INTO runs (id, name, stage, base_checkpoint, dataset, overrides, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
                (rid, rec.name, stage, base_checkpoint, dataset, json.dumps(overrides), now),
            )
        return rec

    def get(self, run_id: str) -> RunRecord | None:
        found = self._rows(
            lambda db: db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchall(),
            lambda r: r.id == run_id,
        )
        if not found and run_id in self._lost:
            raise RegistryDegraded(
                f"run {run_id} is in the damaged part of the run registry {self.path} and cannot be read",
                detail={"problems": list(self.problems)},
            )
        return found[0] if found else None

    def find(self, status: str | None = None) -> list[RunRecord]:
        def read(db: sqlite3.Connection) -> list[sqlite3.Row]:
            if status:
                return db.execute(
                    "SELECT * FROM runs WHERE status = ? ORDER BY created_at DESC", (status,)
                ).fetchall()
            return db.execute("SELECT * FROM runs ORDER BY created_at DESC").fetchall()

        rows = self._rows(read, lambda r: status is None or r.status == status)
        return sorted(rows, key=lambda r: r.created_at, reverse=True)  # salvaged rows come unordered

    def queued(self) -> list[RunRecord]:
        rows = self._rows(
            lambda db: db.execute(
                "SELECT * FROM runs WHERE status = 'queued' ORDER BY created_at ASC"
            ).fetchall(),
            lambda r: r.status == "queued",
        )
        return sorted(rows, key=lambda r: r.created_at)

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
        with self._locked(write=True) as db:
            cur = db.execute(sql, args)
        return cur.rowcount == 1

    def delete(self, run_id: str) -> bool:
        with self._locked(write=True) as db:
            cur = db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return cur.rowcount == 1
