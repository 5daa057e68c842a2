"""The file store and the SQLite ledger, on real files in tmp_path."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import stat

import pytest

from xlperf.season import db, store
from xlperf.errors import WorkspaceError
from xlperf.judge.findings import ERROR, WARNING, Finding

_MP = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


# ---------------------------------------------------------------- store

def test_put__stores_bytes_under_their_sha256_read_only(tmp_path):
    data = b"PK\x03\x04 workbook bytes"
    sha, path, is_new = store.put(tmp_path, data)

    assert sha == hashlib.sha256(data).hexdigest()
    assert path == tmp_path / sha[:2] / sha
    assert is_new
    assert store.get(tmp_path, sha) == data
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_put__same_bytes_twice_is_one_file_and_never_rewritten(tmp_path):
    sha, path, _ = store.put(tmp_path, b"same")
    before = path.stat()

    again = store.put(tmp_path, b"same")

    assert again == (sha, path, False)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p.name for p in path.parent.iterdir()] == [sha]  # no temp files left behind


def test_get__a_file_changed_behind_our_back_is_reported(tmp_path):
    sha, path, _ = store.put(tmp_path, b"original")
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(WorkspaceError) as err:
        store.get(tmp_path, sha)
    assert err.value.code == "store-corrupt"


def test_get__missing_file(tmp_path):
    with pytest.raises(WorkspaceError) as err:
        store.get(tmp_path, "0" * 64)
    assert err.value.code == "store-missing"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "g" * 64, "A" * 64])
def test_path_for__rejects_anything_but_a_sha256(tmp_path, bad):
    with pytest.raises(ValueError):
        store.path_for(tmp_path, bad)


def _put_many(store_dir, blobs, barrier, results):
    barrier.wait()
    results.put([store.put(store_dir, b)[2] for b in blobs])


def test_put__processes_storing_the_same_bytes_at_once_agree(tmp_path):
    blobs = [f"workbook {i}".encode() * 1000 for i in range(20)]
    n = 6
    barrier, results = _MP.Barrier(n), _MP.Queue()
    procs = [_MP.Process(target=_put_many, args=(tmp_path, blobs, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    for i, blob in enumerate(blobs):
        assert sum(o[i] for o in outcomes) == 1  # exactly one process created each file
        assert store.get(tmp_path, hashlib.sha256(blob).hexdigest()) == blob
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.name.startswith(".tmp")]
    assert leftovers == []


# ---------------------------------------------------------------- schema

@pytest.fixture
def conn(tmp_path):
    c = db.connect(tmp_path / "xlperf.sqlite")
    yield c
    c.close()


def test_connect__wal_foreign_keys_and_current_schema(conn):
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"roster", "targets", "generated", "sent", "files", "receipts", "returns", "findings"} <= tables


def test_migrate__running_again_changes_nothing(tmp_path, conn):
    schema = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    db.migrate(conn)
    db.connect(tmp_path / "xlperf.sqlite").close()
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema


def test_connect__database_from_a_newer_xlperf_is_refused(tmp_path, conn):
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    with pytest.raises(WorkspaceError) as err:
        db.connect(tmp_path / "xlperf.sqlite")
    assert err.value.code == "db-too-new"


def test_connect__a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "xlperf.sqlite"
    path.write_bytes(b"this is a spreadsheet, not a database" * 100)
    with pytest.raises(WorkspaceError) as err:
        db.connect(path)
    assert err.value.code == "db-invalid"


def _connect_and_close(path, barrier):
    barrier.wait()
    db.connect(path).close()


def test_connect__processes_creating_the_same_database_at_once(tmp_path):
    path = tmp_path / "xlperf.sqlite"
    n = 5
    barrier = _MP.Barrier(n)
    procs = [_MP.Process(target=_connect_and_close, args=(path, barrier)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    c = db.connect(path)
    assert c.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    c.close()


def test_transaction__rolls_back_everything_on_error_including_nested(conn):
    with pytest.raises(RuntimeError):
        with db.transaction(conn):
            db.record_file(conn, "a" * 64, 1, "a.xlsx")
            with db.transaction(conn):
                db.record_file(conn, "b" * 64, 1, "b.xlsx")
            raise RuntimeError("boom")
    assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == 0


def test_transaction__inner_failure_keeps_outer_work(conn):
    with db.transaction(conn):
        db.record_file(conn, "a" * 64, 1, "a.xlsx")
        with pytest.raises(RuntimeError):
            with db.transaction(conn):
                db.record_file(conn, "b" * 64, 1, "b.xlsx")
                raise RuntimeError("boom")
    assert [r[0] for r in conn.execute("SELECT sha256 FROM files")] == ["a" * 64]


# ---------------------------------------------------------------- ledger helpers

def _roster_row(conn, unit="430527001", project="43052724T000001") -> int:
    return db.upsert_roster_row(conn, {
        "unit_code": unit, "unit_name": "绥宁县医疗保障局", "region_code": "430527", "region_name": "绥宁县",
        "department": "绥宁县医疗保障局", "contact": "李明", "email": "ybj430527@example.gov.cn",
        "project_name": "医疗救助补助资金", "project_code": project, "initial_budget": 300.0,
        "budget": 320.0, "row_no": 2})


def _file(conn, n: int) -> str:
    sha = f"{n:064x}"
    db.record_file(conn, sha, 100 + n, f"绥宁县{n}.xlsx")
    return sha


def _return(conn, sha, roster_id, received_at, findings=(), status="valid"):
    return db.upsert_return(conn, sha, roster_id, "signature" if roster_id else None, status,
                            sum(f.severity == ERROR for f in findings), sum(f.severity == WARNING for f in findings),
                            92.5, "优", 320.0, 261.75, received_at, '{"k": 1}', list(findings))


def test_record_file_and_receipt__repeats_are_not_new(conn):
    sha = "c" * 64
    assert db.record_file(conn, sha, 10, "绥宁县.xlsx") is True
    assert db.record_file(conn, sha, 10, "绥宁县(1).xlsx") is False
    assert db.record_receipt(conn, sha, "绥宁县.xlsx", "imap", "INBOX/7/42") is True
    assert db.record_receipt(conn, sha, "绥宁县.xlsx", "imap", "INBOX/7/42") is False
    assert db.record_receipt(conn, sha, "绥宁县.xlsx", "folder", "inbox/绥宁县.xlsx") is True
    assert len(db.receipts_for(conn, sha)) == 2
    assert db.file_row(conn, sha)["original_name"] == "绥宁县.xlsx"


def test_record_receipt__unknown_source_is_a_programming_error(conn):
    db.record_file(conn, "c" * 64, 10, "x.xlsx")
    with pytest.raises(ValueError):
        db.record_receipt(conn, "c" * 64, "x.xlsx", "usb", "")


def test_receipt_of_an_unrecorded_file_violates_the_foreign_key(conn):
    with pytest.raises(sqlite3.IntegrityError):
        db.record_receipt(conn, "d" * 64, "x.xlsx", "folder", "inbox/x.xlsx")


def test_upsert_return__rejudging_replaces_verdict_and_findings_but_keeps_first_arrival(conn):
    rid = _roster_row(conn)
    sha = _file(conn, 1)
    first = _return(conn, sha, rid, "2025-03-02T08:00:00+00:00", [
        Finding("score-exceeds-weight", ERROR, "F23 得分 12 超过分值 10，请核实", sheet="自评表", cell="F23"),
        Finding("reason-required", WARNING, "未完成指标请说明偏差原因", cell="H20")])

    again = _return(conn, sha, rid, "2025-03-05T08:00:00+00:00",
                    [Finding("weights-sum", ERROR, "分值合计 95，应为 100")], status="errors")

    assert again == first
    row = db.return_by_sha(conn, sha)
    assert (row["status"], row["errors"], row["received_at"]) == ("errors", 1, "2025-03-02T08:00:00+00:00")
    assert [f.code for f in db.findings_for(conn, first)] == ["weights-sum"]


def test_newest_return_of_a_row_supersedes_the_older_ones(conn):
    rid = _roster_row(conn)
    old = _return(conn, _file(conn, 1), rid, "2025-03-01T08:00:00+00:00")
    new = _return(conn, _file(conn, 2), rid, "2025-03-03T08:00:00+00:00")
    # A file that arrives late but was sent earlier (e.g. found in a USB folder) does not win.
    late_old = _return(conn, _file(conn, 3), rid, "2025-03-02T08:00:00+00:00")

    history = db.returns_for(conn, rid)
    assert [r["id"] for r in history] == [old, late_old, new]
    assert {r["id"]: r["superseded_by"] for r in history} == {old: new, late_old: new, new: None}
    latest = db.latest_returns(conn)
    assert [(r["id"], r["unit_name"], r["roster_budget"], r["spent"]) for r in latest] == [
        (new, "绥宁县医疗保障局", 320.0, 261.75)]


def test_same_received_at__the_later_id_wins(conn):
    rid = _roster_row(conn)
    a = _return(conn, _file(conn, 1), rid, "2025-03-01T08:00:00+00:00")
    b = _return(conn, _file(conn, 2), rid, "2025-03-01T08:00:00+00:00")
    assert [r["id"] for r in db.latest_returns(conn)] == [b]
    assert db.returns_for(conn, rid)[0]["superseded_by"] == b != a


def test_rematching_a_return_to_another_row_fixes_both_histories(conn):
    a = _roster_row(conn, project="P-A")
    b = _roster_row(conn, project="P-B")
    a_old = _return(conn, _file(conn, 1), a, "2025-03-01T08:00:00+00:00")
    moved = _return(conn, _file(conn, 2), a, "2025-03-02T08:00:00+00:00")

    _return(conn, _file(conn, 2), b, "2025-03-02T08:00:00+00:00")

    latest = {r["roster_id"]: r["id"] for r in db.latest_returns(conn)}
    assert latest == {a: a_old, b: moved}


def test_unmatched_returns_are_kept_apart(conn):
    _roster_row(conn)
    rid = _return(conn, _file(conn, 1), None, "2025-03-01T08:00:00+00:00", status="unmatched")
    assert db.latest_returns(conn) == []
    assert [r["id"] for r in db.unmatched_returns(conn)] == [rid]


def test_upsert_return__rejects_unknown_status(conn):
    with pytest.raises(ValueError):
        _return(conn, _file(conn, 1), None, "2025-03-01T08:00:00+00:00", status="ok")


def test_sent__one_record_per_row_kind_and_batch(conn):
    rid = _roster_row(conn)
    assert db.record_sent(conn, rid, "send", "2025-03-01", "<m1@x>", "ybj430527@example.gov.cn") is True
    assert db.record_sent(conn, rid, "send", "2025-03-01", "<m2@x>", "ybj430527@example.gov.cn") is False
    assert db.record_sent(conn, rid, "remind", "2025-03-20", "<m3@x>", "ybj430527@example.gov.cn") is True
    assert db.was_sent(conn, rid, "send", "2025-03-01")
    assert not db.was_sent(conn, rid, "remind", "2025-03-01")
    assert [r["message_id"] for r in db.sent_for(conn, rid)] == ["<m1@x>", "<m3@x>"]


def test_generated__regenerating_replaces_the_record(conn):
    rid = _roster_row(conn)
    db.record_generated(conn, rid, "outbox/a.xlsx", "1" * 64, "2025-03-01T08:00:00+00:00")
    db.record_generated(conn, rid, "outbox/a.xlsx", "2" * 64, "2025-03-02T08:00:00+00:00")
    assert db.generated_for(conn, rid)["sha256"] == "2" * 64
    assert conn.execute("SELECT count(*) FROM generated").fetchone()[0] == 1


def test_utc_iso__text_order_is_time_order():
    from datetime import datetime, timedelta, timezone
    beijing = timezone(timedelta(hours=8))
    earlier = db.utc_iso(datetime(2025, 3, 1, 9, 0, tzinfo=beijing))   # 01:00 UTC
    later = db.utc_iso(datetime(2025, 3, 1, 2, 0, tzinfo=timezone.utc))
    assert earlier == "2025-03-01T01:00:00+00:00" < later
