"""Fifty county clerks press 上传 at the same moment: every file is stored and judged exactly once."""
from __future__ import annotations

import collections
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from helpers.webseason import LiveServer
from xlperf.web.guard import Limit, Limits

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
ROOMY = Limits(uploads_per_token=Limit(1000, 60), posts_per_address=Limit(1000, 60), pages_per_address=Limit(5000, 60))


def counting(checker) -> collections.Counter:
    """Count the checks the server runs, per uploaded file name."""
    calls: collections.Counter = collections.Counter()
    lock = threading.Lock()
    real = checker.check

    def check(path, **kw):
        with lock:
            calls[kw.get("display_name")] += 1
        return real(path, **kw)
    checker.check = check
    return calls


def post_all(url: str, jobs: list[tuple[str, str, bytes]]) -> list[httpx.Response]:
    """Each job (token, name, bytes) from its own thread, all released at once."""
    start = threading.Barrier(len(jobs))

    def one(job):
        token, name, data = job
        with httpx.Client(base_url=url, timeout=120) as c:
            csrf = CSRF.search(c.get(f"/u/{token}").text).group(1)
            start.wait()
            return c.post(f"/u/{token}/upload", data={"csrf": csrf}, files={"file": (name, data)}, follow_redirects=True)
    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(one, jobs))


def test_fifty_uploads_at_once_are_each_stored_and_judged_exactly_once(season, app_for):
    app = app_for(season, limits=ROOMY)
    calls = counting(app.state.checker)
    rows = season.rows()
    jobs = []
    for i in range(50):                       # 8 roster rows, several versions each: supersession under load
        row = rows[i % len(rows)]
        path = season.filled(row["id"], f"第{i:02d}份.xlsx", seed=i)
        jobs.append((season.token(row["unit_code"]), path.name, path.read_bytes()))

    with LiveServer(app) as server:
        responses = post_all(server.url, jobs)

    assert [r.status_code for r in responses] == [200] * 50
    assert all("已接收" in r.text for r in responses)
    assert sorted(calls) == sorted(name for _, name, _ in jobs) and set(calls.values()) == {1}

    returns = season.query("SELECT * FROM returns")
    uploads = season.query("SELECT * FROM web_uploads")
    receipts = season.query("SELECT * FROM receipts")
    assert len(returns) == 50 and len({r["sha256"] for r in returns}) == 50
    assert len(uploads) == 50 and {u["outcome"] for u in uploads} == {"accepted"}
    assert sorted(u["return_id"] for u in uploads) == sorted(r["id"] for r in returns)
    assert {u["sha256"] for u in uploads} == {r["sha256"] for r in returns} == {r["sha256"] for r in receipts}
    assert len(receipts) == 50 and {r["source"] for r in receipts} == {"web"}
    assert len(list(p for p in season.ws.store_dir.rglob("*") if p.is_file())) == 50

    for row in rows:                          # one current version per row: the newest, the others point to it
        versions = season.query("SELECT * FROM returns WHERE roster_id = ? ORDER BY received_at, id", row["id"])
        current = [v for v in versions if v["superseded_by"] is None]
        assert len(current) == 1 and current[0]["id"] == versions[-1]["id"]
        assert all(v["superseded_by"] == current[0]["id"] for v in versions[:-1])
        for v in versions:                    # each return sits under the unit whose link uploaded it
            (u,) = [u for u in uploads if u["return_id"] == v["id"]]
            assert u["unit_code"] == row["unit_code"]


def test_the_same_file_uploaded_ten_times_at_once_is_judged_once(season, app_for):
    app = app_for(season, limits=ROOMY)
    calls = counting(app.state.checker)
    row = season.rows()[0]
    path = season.filled(row["id"], "同一份.xlsx")
    with LiveServer(app) as server:
        responses = post_all(server.url, [(season.token(row["unit_code"]), path.name, path.read_bytes())] * 10)
    assert all(r.status_code == 200 and "校验合格" in r.text for r in responses)
    assert sum(calls.values()) == 1
    outcomes = collections.Counter(u["outcome"] for u in season.query("SELECT * FROM web_uploads"))
    assert outcomes == {"accepted": 1, "duplicate": 9}
    assert len(season.query("SELECT * FROM returns")) == 1 and len(season.query("SELECT * FROM receipts")) == 10
