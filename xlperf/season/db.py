"""The workspace ledger: one SQLite file, created and migrated by the tool.

Why SQLite: the province office runs xlperf on one desktop, sometimes two
commands at once (a mail fetch while someone builds the summary). WAL mode
lets readers and one writer overlap; `busy_timeout` makes the second writer
wait instead of failing. (WAL needs a local disk: do not put the workspace on
a network share.)

Every table has the UNIQUE constraint that makes re-running a step harmless:
re-importing the roster, re-sending a batch, re-ingesting the same inbox.

Conventions:
- Connections are in autocommit mode; each helper here is atomic on its own,
  and `transaction(conn)` groups several (it nests, via savepoints).
- Timestamps are ISO 8601 UTC text (`utc_iso()`), so text order is time order.
- Enumerated columns (status, source, kind, matched_by) are checked in Python,
  not with CHECK constraints, so adding a value never needs a table rebuild.
- All SQL lives in this module.
"""
from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from ..errors import WorkspaceError
from ..judge.findings import Finding

RETURN_STATUSES = ("valid", "errors", "unreadable", "unmatched")
MATCHED_BY = ("signature", "labels")
SOURCES = ("folder", "zip", "imap", "web")
SENT_KINDS = ("send", "remind")

# Each migration is a list of statements run in one transaction; never edit a
# published migration, append a new one.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE roster (
            id INTEGER PRIMARY KEY,
            unit_code TEXT NOT NULL,
            unit_name TEXT NOT NULL,
            region_code TEXT NOT NULL DEFAULT '',
            region_name TEXT NOT NULL DEFAULT '',
            department TEXT NOT NULL DEFAULT '',
            contact TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            project_name TEXT NOT NULL,
            project_code TEXT NOT NULL,
            initial_budget REAL,
            budget REAL,
            row_no INTEGER,
            active INTEGER NOT NULL DEFAULT 1,
            UNIQUE (unit_code, project_code)
        )""",
        """CREATE TABLE targets (
            id INTEGER PRIMARY KEY,
            roster_id INTEGER NOT NULL REFERENCES roster(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            level1 TEXT NOT NULL,
            level2 TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL,
            weight REAL,
            target TEXT NOT NULL DEFAULT '',
            row_no INTEGER,
            UNIQUE (roster_id, seq)
        )""",
        """CREATE TABLE generated (
            roster_id INTEGER PRIMARY KEY REFERENCES roster(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            generated_at TEXT NOT NULL
        )""",
        """CREATE TABLE sent (
            id INTEGER PRIMARY KEY,
            roster_id INTEGER NOT NULL REFERENCES roster(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            batch TEXT NOT NULL,
            message_id TEXT NOT NULL DEFAULT '',
            to_addr TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            UNIQUE (roster_id, kind, batch)
        )""",
        """CREATE TABLE files (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            first_seen TEXT NOT NULL,
            original_name TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE receipts (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL REFERENCES files(sha256),
            received_at TEXT NOT NULL,
            original_name TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL,
            source_ref TEXT NOT NULL DEFAULT '',
            UNIQUE (sha256, source, source_ref, original_name)
        )""",
        """CREATE TABLE returns (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE REFERENCES files(sha256),
            roster_id INTEGER REFERENCES roster(id) ON DELETE SET NULL,
            matched_by TEXT,
            status TEXT NOT NULL,
            errors INTEGER NOT NULL DEFAULT 0,
            warnings INTEGER NOT NULL DEFAULT 0,
            total_score REAL,
            grade TEXT,
            budget REAL,
            spent REAL,
            received_at TEXT NOT NULL,
            superseded_by INTEGER REFERENCES returns(id) ON DELETE SET NULL,
            summary_json TEXT
        )""",
        """CREATE TABLE findings (
            id INTEGER PRIMARY KEY,
            return_id INTEGER NOT NULL REFERENCES returns(id) ON DELETE CASCADE,
            code TEXT NOT NULL,
            severity TEXT NOT NULL,
            sheet TEXT NOT NULL DEFAULT '',
            cell TEXT NOT NULL DEFAULT '',
            field TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL
        )""",
        "CREATE INDEX targets_roster ON targets(roster_id, seq)",
        "CREATE INDEX returns_roster ON returns(roster_id, received_at)",
        "CREATE INDEX findings_return ON findings(return_id)",
        "CREATE INDEX receipts_sha ON receipts(sha256)",
    ),
    (   # the upload page (xlperf serve): link versions, every upload attempt, small settings
        """CREATE TABLE web_links (
            unit_code TEXT PRIMARY KEY,
            version INTEGER NOT NULL DEFAULT 1,
            changed_at TEXT NOT NULL
        )""",
        """CREATE TABLE web_uploads (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            unit_code TEXT NOT NULL DEFAULT '',
            original_name TEXT NOT NULL DEFAULT '',
            size INTEGER,
            sha256 TEXT,
            outcome TEXT NOT NULL,
            code TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '',
            return_id INTEGER REFERENCES returns(id) ON DELETE SET NULL
        )""",
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        "CREATE INDEX web_uploads_unit ON web_uploads(unit_code, at)",
    ),
    (
        # What each invitation carried (the workbook's sha256, kept in the store), so a
        # workbook regenerated after a roster change is sent again as a correction.
        "ALTER TABLE sent ADD COLUMN sha256 TEXT NOT NULL DEFAULT ''",
        # Who sent a received file, and why it was kept aside instead of judged as a
        # return ('' for a return): a photo, a .txt, a mail signature image.
        "ALTER TABLE receipts ADD COLUMN sender TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE receipts ADD COLUMN set_aside TEXT NOT NULL DEFAULT ''",
    ),
    (   # the roster's 联系电话 and approved 年度总体目标, pre-filled into the form
        "ALTER TABLE roster ADD COLUMN phone TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE roster ADD COLUMN goal TEXT NOT NULL DEFAULT ''",
    ),
]
SCHEMA_VERSION: int = len(MIGRATIONS)


def utc_iso(dt: datetime | None = None) -> str:
    """Timestamp text for the ledger: UTC, seconds, e.g. 2025-03-01T08:00:00+00:00."""
    dt = dt or datetime.now(timezone.utc)
    if dt.tzinfo is None:
        dt = dt.astimezone()  # naive means local time
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- connection

def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the workspace database."""
    try:
        conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None)
    except sqlite3.Error as exc:
        raise WorkspaceError(f"无法打开数据库：{exc}", code="db-unavailable", path=str(path)) from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA foreign_keys = ON")
        _enable_wal(conn)
        migrate(conn)
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise WorkspaceError("数据库正被另一个 xlperf 命令占用，请等它结束后重试",
                                 code="db-busy", path=str(path)) from None
        raise WorkspaceError(f"数据库文件无法使用（{exc}），请检查是否被其他程序改写",
                             code="db-invalid", path=str(path)) from None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise WorkspaceError(f"数据库文件无法使用（{exc}），请检查是否被其他程序改写",
                             code="db-invalid", path=str(path)) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, wait: float = 10.0) -> None:
    """Switch to WAL. Changing the journal mode does not go through busy_timeout
    (SQLite reports "locked" at once while another process creates the same new
    database), so retry here for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to SCHEMA_VERSION; safe to call again and from racing processes."""
    current = _user_version(conn)
    if current > SCHEMA_VERSION:
        raise WorkspaceError(f"数据库版本 {current} 比本程序支持的 {SCHEMA_VERSION} 更新，请升级 xlperf",
                             code="db-too-new")
    while current < SCHEMA_VERSION:
        with transaction(conn):
            current = _user_version(conn)  # another process may have migrated meanwhile
            if current >= SCHEMA_VERSION:
                break
            for statement in MIGRATIONS[current]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
        current = _user_version(conn)


_savepoint_counter = 0


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Atomic block. Outermost takes the write lock up front (BEGIN IMMEDIATE) so two
    writers queue on busy_timeout instead of deadlocking; inner blocks are savepoints."""
    global _savepoint_counter
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return
    _savepoint_counter += 1
    name = f"sp{_savepoint_counter}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield conn
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


def _check(value: object, allowed: Sequence[object], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {allowed!r}, got {value!r}")


# ---------------------------------------------------------------- roster

ROSTER_FIELDS = ("unit_code", "unit_name", "region_code", "region_name", "department", "contact",
                 "email", "project_name", "project_code", "initial_budget", "budget", "row_no", "phone", "goal")
TARGET_FIELDS = ("seq", "level1", "level2", "name", "weight", "target", "row_no")


def upsert_roster_row(conn: sqlite3.Connection, fields: dict) -> int:
    """Insert or update one roster row keyed by (unit_code, project_code); marks it active."""
    cols = ", ".join(ROSTER_FIELDS)
    marks = ", ".join("?" for _ in ROSTER_FIELDS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in ROSTER_FIELDS if c not in ("unit_code", "project_code"))
    # No RETURNING: it needs SQLite 3.35, newer than some distributions' Python ships with.
    conn.execute(
        f"INSERT INTO roster ({cols}, active) VALUES ({marks}, 1) "
        f"ON CONFLICT (unit_code, project_code) DO UPDATE SET {updates}, active = 1",
        [fields.get(c, "") if c in ("phone", "goal") else fields[c] for c in ROSTER_FIELDS])   # newer columns
    roster_id = roster_id_for(conn, fields["unit_code"], fields["project_code"])
    assert roster_id is not None
    return roster_id


def replace_targets(conn: sqlite3.Connection, roster_id: int, targets: Iterable[dict]) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM targets WHERE roster_id = ?", (roster_id,))
        conn.executemany(
            f"INSERT INTO targets (roster_id, {', '.join(TARGET_FIELDS)}) VALUES (?, {', '.join('?' for _ in TARGET_FIELDS)})",
            [[roster_id] + [t[c] for c in TARGET_FIELDS] for t in targets])


def deactivate_roster_except(conn: sqlite3.Connection, keep_ids: Iterable[int]) -> int:
    """Rows missing from a re-imported roster stay (their history matters) but drop out of use."""
    keep = set(keep_ids)
    with transaction(conn):
        active = [r[0] for r in conn.execute("SELECT id FROM roster WHERE active = 1")]
        drop = [(i,) for i in active if i not in keep]
        conn.executemany("UPDATE roster SET active = 0 WHERE id = ?", drop)
    return len(drop)


def roster_rows(conn: sqlite3.Connection, *, include_inactive: bool = False) -> list[sqlite3.Row]:
    where = "" if include_inactive else "WHERE active = 1"
    return conn.execute(f"SELECT * FROM roster {where} ORDER BY row_no, id").fetchall()


def roster_row(conn: sqlite3.Connection, roster_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM roster WHERE id = ?", (roster_id,)).fetchone()


def roster_id_for(conn: sqlite3.Connection, unit_code: str, project_code: str) -> int | None:
    row = conn.execute("SELECT id FROM roster WHERE unit_code = ? AND project_code = ?",
                       (unit_code, project_code)).fetchone()
    return None if row is None else int(row[0])


def targets_of(conn: sqlite3.Connection, roster_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM targets WHERE roster_id = ? ORDER BY seq", (roster_id,)).fetchall()


# ---------------------------------------------------------------- generate / send

def record_generated(conn: sqlite3.Connection, roster_id: int, path: str, sha: str,
                     generated_at: str | None = None) -> None:
    """The workbook generated for a roster row (regenerating replaces the record)."""
    conn.execute(
        "INSERT INTO generated (roster_id, path, sha256, generated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (roster_id) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256, "
        "generated_at = excluded.generated_at",
        (roster_id, str(path), sha, generated_at or utc_iso()))


def generated_for(conn: sqlite3.Connection, roster_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM generated WHERE roster_id = ?", (roster_id,)).fetchone()


def record_sent(conn: sqlite3.Connection, roster_id: int, kind: str, batch: str, message_id: str,
                to_addr: str, sent_at: str | None = None, sha: str = "") -> bool:
    """Record one mail (`sha`: the workbook it carried); False when this (row, kind, batch) was already recorded."""
    _check(kind, SENT_KINDS, "kind")
    cur = conn.execute(
        "INSERT OR IGNORE INTO sent (roster_id, kind, batch, message_id, to_addr, sent_at, sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (roster_id, kind, batch, message_id or "", to_addr, sent_at or utc_iso(), sha or ""))
    return cur.rowcount == 1


def last_sent(conn: sqlite3.Connection, roster_id: int, kind: str = "send") -> sqlite3.Row | None:
    """The latest mail of this kind to a roster row (its sha256 is the workbook it carried)."""
    return conn.execute("SELECT * FROM sent WHERE roster_id = ? AND kind = ? ORDER BY sent_at DESC, id DESC LIMIT 1",
                        (roster_id, kind)).fetchone()


def was_sent(conn: sqlite3.Connection, roster_id: int, kind: str, batch: str) -> bool:
    return conn.execute("SELECT 1 FROM sent WHERE roster_id = ? AND kind = ? AND batch = ?",
                        (roster_id, kind, batch)).fetchone() is not None


def sent_for(conn: sqlite3.Connection, roster_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM sent WHERE roster_id = ? ORDER BY sent_at, id", (roster_id,)).fetchall()


# ---------------------------------------------------------------- received files

def record_file(conn: sqlite3.Connection, sha: str, size: int, name: str, first_seen: str | None = None) -> bool:
    """Register stored bytes; True when this content is new to the ledger."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO files (sha256, size, first_seen, original_name) VALUES (?, ?, ?, ?)",
        (sha, int(size), first_seen or utc_iso(), name or ""))
    return cur.rowcount == 1


def record_receipt(conn: sqlite3.Connection, sha: str, name: str, source: str, ref: str,
                   received_at: str | None = None, *, sender: str = "", set_aside: str = "") -> bool:
    """One arrival of a file (the same bytes may arrive many times); True when new.

    `ref` identifies the arrival within its source: the folder path, the zip
    path plus member, or the IMAP folder/UIDVALIDITY/UID.
    """
    _check(source, SOURCES, "source")
    cur = conn.execute(
        "INSERT OR IGNORE INTO receipts (sha256, received_at, original_name, source, source_ref, sender, set_aside) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (sha, received_at or utc_iso(), name or "", source, ref or "", sender or "", set_aside or ""))
    return cur.rowcount == 1


def set_aside_receipts(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Arrivals kept in the store but not judged as returns (not spreadsheets), oldest first."""
    return conn.execute("SELECT * FROM receipts WHERE set_aside != '' ORDER BY received_at, id").fetchall()


def is_set_aside(conn: sqlite3.Connection, sha: str) -> bool:
    return conn.execute("SELECT 1 FROM receipts WHERE sha256 = ? AND set_aside != ''", (sha,)).fetchone() is not None


def receipts_for(conn: sqlite3.Connection, sha: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM receipts WHERE sha256 = ? ORDER BY received_at, id", (sha,)).fetchall()


def file_row(conn: sqlite3.Connection, sha: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM files WHERE sha256 = ?", (sha,)).fetchone()


# ---------------------------------------------------------------- returns

def upsert_return(conn: sqlite3.Connection, sha: str, roster_id: int | None, matched_by: str | None,
                  status: str, errors: int, warnings: int, total_score: float | None, grade: str | None,
                  budget: float | None, spent: float | None, received_at: str, summary_json: str | None,
                  findings: Sequence[Finding]) -> int:
    """Store the judgement of one received file (keyed by its sha256) and its findings.

    Re-judging the same bytes replaces the row's verdict and findings but keeps
    the earliest `received_at`, so re-running an ingest never reorders
    submissions. Supersession is recomputed for the roster rows involved.
    The file must already be recorded with `record_file`.
    """
    _check(status, RETURN_STATUSES, "status")
    if matched_by is not None:
        _check(matched_by, MATCHED_BY, "matched_by")
    with transaction(conn):
        old = conn.execute("SELECT id, roster_id FROM returns WHERE sha256 = ?", (sha,)).fetchone()
        conn.execute(
            "INSERT INTO returns (sha256, roster_id, matched_by, status, errors, warnings, total_score, grade, "
            "budget, spent, received_at, summary_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sha256) DO UPDATE SET roster_id = excluded.roster_id, matched_by = excluded.matched_by, "
            "status = excluded.status, errors = excluded.errors, warnings = excluded.warnings, "
            "total_score = excluded.total_score, grade = excluded.grade, budget = excluded.budget, "
            "spent = excluded.spent, received_at = min(returns.received_at, excluded.received_at), "
            "summary_json = excluded.summary_json",
            (sha, roster_id, matched_by, status, int(errors), int(warnings), total_score, grade,
             budget, spent, received_at, summary_json))
        return_id = int(conn.execute("SELECT id FROM returns WHERE sha256 = ?", (sha,)).fetchone()[0])
        conn.execute("DELETE FROM findings WHERE return_id = ?", (return_id,))
        conn.executemany(
            "INSERT INTO findings (return_id, code, severity, sheet, cell, field, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(return_id, f.code, f.severity, f.sheet or "", f.cell or "", f.field or "", f.message)
             for f in findings])
        if roster_id is None:
            conn.execute("UPDATE returns SET superseded_by = NULL WHERE id = ?", (return_id,))
        else:
            supersede(conn, roster_id)
        if old is not None and old["roster_id"] is not None and old["roster_id"] != roster_id:
            supersede(conn, old["roster_id"])
    return return_id


def supersede(conn: sqlite3.Connection, roster_id: int) -> None:
    """The newest return of a roster row counts; older ones point to it.

    "Newest" is by received_at, then id — whatever its status: a county that
    re-sends a worse file has still replaced its earlier one.
    """
    with transaction(conn):
        newest = conn.execute(
            "SELECT id FROM returns WHERE roster_id = ? ORDER BY received_at DESC, id DESC LIMIT 1",
            (roster_id,)).fetchone()
        if newest is None:
            return
        conn.execute(
            "UPDATE returns SET superseded_by = CASE WHEN id = :newest THEN NULL ELSE :newest END "
            "WHERE roster_id = :roster",
            {"newest": newest[0], "roster": roster_id})


_LATEST_COLUMNS = (
    "r.id, r.sha256, r.roster_id, r.matched_by, r.status, r.errors, r.warnings, r.total_score, r.grade, "
    "r.budget, r.spent, r.received_at, r.superseded_by, r.summary_json, "
    "ro.unit_code, ro.unit_name, ro.region_code, ro.region_name, ro.department, ro.contact, ro.email, "
    "ro.project_name, ro.project_code, ro.initial_budget AS roster_initial_budget, "
    "ro.budget AS roster_budget, ro.row_no, ro.active")


def latest_returns(conn: sqlite3.Connection, *, include_inactive: bool = False) -> list[sqlite3.Row]:
    """The current return of each roster row that has one, with the roster's columns.

    Return columns keep their names (id, budget, spent, …); the roster's budgets
    come as roster_initial_budget / roster_budget.
    """
    active = "" if include_inactive else "AND ro.active = 1"
    return conn.execute(
        f"SELECT {_LATEST_COLUMNS} FROM returns r JOIN roster ro ON ro.id = r.roster_id "
        f"WHERE r.superseded_by IS NULL {active} ORDER BY ro.row_no, ro.id").fetchall()


def all_returns(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every return received, current or superseded, matched or not (returns of roster rows
    dropped from the roster left out), oldest first: what a summary counts as 收到文件."""
    return conn.execute(
        "SELECT r.* FROM returns r LEFT JOIN roster ro ON ro.id = r.roster_id "
        "WHERE r.roster_id IS NULL OR ro.active = 1 ORDER BY r.received_at, r.id").fetchall()


def returns_for(conn: sqlite3.Connection, roster_id: int) -> list[sqlite3.Row]:
    """Every return of a roster row, oldest first (the history a clerk asks about)."""
    return conn.execute("SELECT * FROM returns WHERE roster_id = ? ORDER BY received_at, id",
                        (roster_id,)).fetchall()


def unmatched_returns(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM returns WHERE roster_id IS NULL ORDER BY received_at, id").fetchall()


def return_by_sha(conn: sqlite3.Connection, sha: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM returns WHERE sha256 = ?", (sha,)).fetchone()


def findings_for(conn: sqlite3.Connection, return_id: int, *, file: str = "") -> list[Finding]:
    rows = conn.execute("SELECT * FROM findings WHERE return_id = ? ORDER BY id", (return_id,)).fetchall()
    return [Finding(code=r["code"], severity=r["severity"], message=r["message"], file=file,
                    sheet=r["sheet"], cell=r["cell"], field=r["field"]) for r in rows]


# ---------------------------------------------------------------- upload page (web/)

UPLOAD_OUTCOMES = ("accepted", "duplicate", "refused")


def link_version(conn: sqlite3.Connection, unit_code: str) -> int:
    """The current version of a unit's upload link (1 until it is revoked)."""
    row = conn.execute("SELECT version FROM web_links WHERE unit_code = ?", (unit_code,)).fetchone()
    return 1 if row is None else int(row[0])


def bump_link_version(conn: sqlite3.Connection, unit_code: str) -> int:
    """Revoke a unit's current link: every link with an older version stops working."""
    with transaction(conn):
        new = link_version(conn, unit_code) + 1
        conn.execute("INSERT INTO web_links (unit_code, version, changed_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (unit_code) DO UPDATE SET version = excluded.version, changed_at = excluded.changed_at",
                     (unit_code, new, utc_iso()))
    return new


def record_upload(conn: sqlite3.Connection, *, address: str, unit_code: str, original_name: str, size: int | None,
                  sha: str | None, outcome: str, code: str = "", message: str = "", return_id: int | None = None,
                  at: str | None = None) -> int:
    """One upload attempt through the web page, accepted or refused."""
    _check(outcome, UPLOAD_OUTCOMES, "outcome")
    cur = conn.execute(
        "INSERT INTO web_uploads (at, address, unit_code, original_name, size, sha256, outcome, code, message, return_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at or utc_iso(), address or "", unit_code or "", original_name or "", size, sha, outcome, code or "",
         message or "", return_id))
    return int(cur.lastrowid)


def upload_row(conn: sqlite3.Connection, upload_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM web_uploads WHERE id = ?", (upload_id,)).fetchone()


def uploads_for(conn: sqlite3.Connection, unit_code: str | None = None, *, limit: int = 200) -> list[sqlite3.Row]:
    """Upload attempts, newest first; one unit's only when `unit_code` is given."""
    if unit_code is None:
        return conn.execute("SELECT * FROM web_uploads ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return conn.execute("SELECT * FROM web_uploads WHERE unit_code = ? ORDER BY id DESC LIMIT ?",
                        (unit_code, limit)).fetchall()


def return_row(conn: sqlite3.Connection, return_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM returns WHERE id = ?", (return_id,)).fetchone()


def get_setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, value))
