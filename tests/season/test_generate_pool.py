"""A large roster is rendered in worker processes: the outbox and the ledger are what one-at-a-time rendering gives."""
from __future__ import annotations

import hashlib

from xlperf.season import generate as gen
from xlperf.season.roster import save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.season.workspace import init_workspace


def workspace(root, rows: int):
    ws = init_workspace(root, year=2024)
    conn = ws.connect()
    save_roster(conn, sample_roster(n_cities=1, counties_per_city=4, projects=3)[:rows])
    conn.close()
    return ws


def outbox(ws) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(ws.outbox.iterdir())}


def ledger(ws) -> list[tuple]:
    conn = ws.connect()
    try:
        return [(r["roster_id"], r["path"].rsplit("/", 1)[-1], r["sha256"])
                for r in conn.execute("SELECT * FROM generated ORDER BY roster_id")]
    finally:
        conn.close()


def test_pooled_generation_writes_the_same_workbooks_and_ledger_as_one_at_a_time(tmp_path, monkeypatch):
    ws = workspace(tmp_path / "ws", 11)
    first = gen.generate(ws)                    # 11 rows: rendered here, one at a time
    assert len(first.written) == 11
    serial_files, serial_ledger = outbox(ws), ledger(ws)
    for p in ws.outbox.iterdir():
        p.unlink()

    monkeypatch.setattr(gen, "BATCH", 3)
    monkeypatch.setattr(gen, "POOL_MIN_ROWS", 4)
    rep = gen.generate(ws)                      # now in worker processes, 4 batches
    assert [p.name for p in rep.written] == [p.name for p in first.written]
    assert outbox(ws) == serial_files and not list(ws.outbox.glob("*.part"))
    assert ledger(ws) == serial_ledger

    again = gen.generate(ws)                    # idempotent in the pool as well
    assert not again.written and len(again.unchanged) == 11
