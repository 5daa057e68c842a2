"""Where a province's returns wait while the summary is built: a temporary SQLite file.

A national run folds hundreds of thousands of returns; holding each one's
project row, indicator rows, findings and texts in Python would grow the
main process by tens of KiB per return. Each checked return is instead
written here as it arrives (`Spill.add`), in batches, and forgotten; the
summary's figures are then SQL over these tables, and its long tables
(项目明细, 指标明细, 问题清单, 未提交) are `SpilledRows`: sequences that read
the rows back from the file when a writer iterates them.

The database is a file in a fresh folder of the temp directory
(xlperf-summary-*), deleted with the folder when the last `SpilledRows` using
it is gone; a forked exporter may open it again read-only (`reopen`).
"""
from __future__ import annotations

import glob
import math
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Callable, Iterator

STALE_HOURS = 24           # a spill folder this old belongs to a run that was killed
BATCH = 500                # returns per executemany round
CACHE_KIB = 4 * 1024       # SQLite page cache: bounded (and full by ~3,000 returns), whatever their number
FETCH = 2000               # rows fetched per round trip when reading back

SCHEMA = """
CREATE TABLE exp (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, unit_id TEXT NOT NULL, region TEXT NOT NULL,
    leaf TEXT NOT NULL, c0 TEXT, c1 TEXT, c2 TEXT,
    unit_code TEXT, unit TEXT, project TEXT, project_code TEXT, budget REAL, contact TEXT, email TEXT);
CREATE TABLE ret (
    seq INTEGER PRIMARY KEY, exp_key TEXT, received TEXT NOT NULL, current INTEGER NOT NULL DEFAULT 1,
    valid INTEGER NOT NULL, readable INTEGER NOT NULL, is_form INTEGER NOT NULL,
    region TEXT NOT NULL, leaf TEXT NOT NULL, c0 TEXT, c1 TEXT, c2 TEXT, unit_key TEXT NOT NULL,
    unit_code TEXT, unit TEXT, project TEXT, project_code TEXT, initial REAL, budget REAL, spent REAL,
    rate REAL, funds_score REAL, score REAL, grade TEXT NOT NULL,
    errors INTEGER NOT NULL, warnings INTEGER NOT NULL, in_roster TEXT NOT NULL, received_shown TEXT,
    source TEXT NOT NULL);
CREATE TABLE ind (
    ret INTEGER NOT NULL, level1 TEXT, level2 TEXT, name TEXT, name_key TEXT, named INTEGER NOT NULL,
    st TEXT NOT NULL, target TEXT, actual TEXT, weight REAL, score REAL, suggested REAL, status TEXT, cell TEXT);
CREATE TABLE fnd (ret INTEGER NOT NULL, sheet TEXT, cell TEXT, code TEXT, severity TEXT, message TEXT);
CREATE TABLE txt (ret INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, text TEXT NOT NULL,
                  place TEXT NOT NULL);
"""

INDEXES = """
CREATE INDEX ret_exp ON ret (exp_key, received, seq);
CREATE INDEX exp_key ON exp (key);
CREATE INDEX ind_ret ON ind (ret);
CREATE INDEX fnd_ret ON fnd (ret);
CREATE INDEX txt_kind ON txt (kind, key);
"""


class FSum:
    """SQLite aggregate: the exact float sum (Shewchuk's partials, as math.fsum); NULL when no value."""

    def __init__(self) -> None:
        self.partials: list[float] = []
        self.seen = False

    def step(self, x: float | None) -> None:
        if x is None:
            return
        self.seen = True
        x = float(x)
        partials, i = self.partials, 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    def finalize(self) -> float | None:
        return math.fsum(self.partials) if self.seen else None


class Spill:
    """One summary's temporary database and its batched writers."""

    def __init__(self) -> None:
        sweep_stale()
        self.folder = tempfile.mkdtemp(prefix="xlperf-summary-")
        self.path = os.path.join(self.folder, "spill.sqlite")
        self.conn = self._connect(self.path)
        self.conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        self.conn.executescript(SCHEMA)
        self._gone = weakref.finalize(self, _remove, self.conn, self.folder)
        self.pending: dict[str, list[tuple]] = {"exp": [], "ret": [], "ind": [], "fnd": [], "txt": []}
        self.returns = 0

    def _connect(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        self.lock = threading.Lock()      # a web request may write what another built
        conn = sqlite3.connect(target, uri=uri, check_same_thread=False)
        conn.executescript(f"PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = FILE;")
        conn.create_aggregate("fsum", 1, FSum)
        return conn

    def reopen(self) -> None:
        """In a forked process: a read-only connection of its own (one must not cross a fork)."""
        # The parent removes the file, not this process; the inherited connection is kept, never
        # used or closed here (SQLite forbids both across a fork), until the process ends with _exit.
        self._inherited = (self.conn, self._gone.detach())
        self.conn = self._connect(f"file:{self.path}?mode=ro", uri=True)

    def add(self, table: str, row: tuple) -> None:
        self.pending[table].append(row)

    def added_return(self) -> None:
        self.returns += 1
        if self.returns % BATCH == 0:
            self.flush()

    def flush(self) -> None:
        with self.conn:
            for table, rows in self.pending.items():
                if rows:
                    marks = ",".join("?" * len(rows[0]))
                    self.conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
                    rows.clear()

    def finish(self) -> None:
        """Everything written: build the indexes the summary's queries use."""
        self.flush()
        self.conn.executescript(INDEXES + "ANALYZE;")

    def all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple = ()) -> tuple:
        with self.lock:
            return self.conn.execute(sql, params).fetchone()

    def stream(self, sql: str, params: tuple = ()) -> Iterator[tuple]:
        """Rows in FETCH-sized rounds: a writer never holds a whole table."""
        with self.lock:
            cur = self.conn.execute(sql, params)
            batch = cur.fetchmany(FETCH)
        while batch:
            yield from batch
            with self.lock:
                batch = cur.fetchmany(FETCH)


def sweep_stale(now: float | None = None) -> None:
    """Spill folders left by a run that was killed (untouched for STALE_HOURS) are removed."""
    limit = (now if now is not None else time.time()) - STALE_HOURS * 3600
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), "xlperf-summary-*")):
        try:
            newest = max([os.path.getmtime(folder)] + [os.path.getmtime(os.path.join(folder, f))
                                                        for f in os.listdir(folder)])
        except OSError:
            continue
        if newest < limit:
            shutil.rmtree(folder, ignore_errors=True)


def _remove(conn: sqlite3.Connection, folder: str) -> None:
    conn.close()
    shutil.rmtree(folder, ignore_errors=True)


class SpilledRows(Sequence):
    """A summary table's rows, read back from the spill each time they are iterated.

    Supports len(), iteration, an index and a slice (rows[0], rows[:2000]) like the list it
    replaces; `make` turns one SQL row into the dict the writers expect.
    """

    def __init__(self, spill: Spill, sql: str, count: int, make: Callable[[tuple], dict]) -> None:
        self.spill, self.sql, self.count, self.make = spill, sql, count, make

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict]:
        make = self.make
        for row in self.spill.stream(self.sql):
            yield make(row)

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self.count)
            if step != 1:
                return [self[k] for k in range(start, stop, step)]
            n = max(0, stop - start)
            return [self.make(r) for r in self.spill.all(f"{self.sql} LIMIT ? OFFSET ?", (n, start))] if n else []
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(i)
        return self.make(self.spill.one(f"{self.sql} LIMIT 1 OFFSET ?", (i,)))

    def __bool__(self) -> bool:
        return self.count > 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, SpilledRows)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"<{self.count} rows in a summary spill>"
