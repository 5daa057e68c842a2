"""Upload-to-verdict time of the web page on a generated return: what a county clerk waits for.

A real uvicorn server on 127.0.0.1, the real ledger and checker processes.
Each round opens the unit's page (for its form token), posts a freshly
filled workbook and follows the redirect to the verdict page; the time from
the POST to the verdict page's last byte is what is measured.

Run: python benchmarks/bench_upload.py [rounds]   (prints figures, asserts nothing)
"""
from __future__ import annotations

import datetime as dt
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from xlperf.demo.simulate import fill_return
from xlperf.season import db, weblink
from xlperf.season.generate import generate
from xlperf.season.roster import save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.season.workspace import init_workspace
from xlperf.web.app import WebOptions, create_app
from xlperf.web.guard import Limit, Limits

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws", year=2024, form="project-county", deadline="2099-12-31")
        conn = ws.connect()
        save_roster(conn, sample_roster(n_cities=2, counties_per_city=2, projects=2, seed=1))
        row = db.roster_rows(conn)[0]
        token = weblink.unit_link(ws, conn, row["unit_code"], "x").rsplit("/", 1)[1]
        conn.close()
        generate(ws)
        template = Path(db.generated_for(ws.connect(), row["id"])["path"])
        files = [fill_return(template, Path(tmp) / f"return-{i}.xlsx", seed=i, mistakes=("no-reason",) if i % 2 else ())
                 for i in range(rounds + 1)]

        roomy = Limits(uploads_per_token=Limit(10_000, 60), posts_per_address=Limit(10_000, 60))
        app = create_app(ws, WebOptions(limits=roomy, clock=lambda: dt.datetime(2025, 1, 1)))
        port = _port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        times = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120, follow_redirects=True) as c:
                for i, path in enumerate(files):
                    csrf = CSRF.search(c.get(f"/u/{token}").text).group(1)
                    data = path.read_bytes()
                    t = time.perf_counter()
                    res = c.post(f"/u/{token}/upload", data={"csrf": csrf}, files={"file": (path.name, data)})
                    took = time.perf_counter() - t
                    assert 'id="verdict"' in res.text, res.text[:500]
                    if i:                        # the first round also starts the checker processes
                        times.append(took)
                    else:
                        first = took
        finally:
            server.should_exit = True
            app.state.checker.close()
        size = files[0].stat().st_size
        print(f"upload → verdict page on a generated return ({size / 1024:.0f} KB, {rounds} rounds, half with errors):")
        print(f"  median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms; first upload after start {first * 1000:.0f} ms (starts the checker)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
