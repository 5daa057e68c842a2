"""The upload page's test season: roster of four county units (two projects each), workbooks generated
with each unit's link in the 说明, and a clock inside the submission period."""
from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from xlperf.demo.simulate import fill_return
from xlperf.season import db, weblink
from xlperf.season.generate import generate
from xlperf.season.roster import save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.season.workspace import init_workspace, open_workspace, save_config
from xlperf.web.app import WebOptions, create_app

BEFORE_DEADLINE = dt.datetime(2025, 3, 20, 10, 0)     # the workspace's deadline is 2025-03-31
BASE = "http://127.0.0.1:8000"


@dataclass
class Season:
    ws: object
    tmp: Path

    def conn(self):
        return self.ws.connect()

    def rows(self, unit_code: str | None = None):
        conn = self.conn()
        try:
            return [r for r in db.roster_rows(conn) if unit_code is None or r["unit_code"] == unit_code]
        finally:
            conn.close()

    def units(self) -> list[str]:
        return sorted({r["unit_code"] for r in self.rows()})

    def token(self, unit_code: str) -> str:
        conn = self.conn()
        try:
            return weblink.unit_link(self.ws, conn, unit_code, "x").rsplit("/", 1)[1]
        finally:
            conn.close()

    def workbook(self, roster_id: int) -> Path:
        conn = self.conn()
        try:
            return Path(db.generated_for(conn, roster_id)["path"])
        finally:
            conn.close()

    def filled(self, roster_id: int, name: str, *, seed: int = 1, mistakes: tuple[str, ...] = ()) -> Path:
        out = self.tmp / "filled" / name
        out.parent.mkdir(exist_ok=True)
        return fill_return(self.workbook(roster_id), out, seed=seed, mistakes=mistakes)

    def query(self, sql: str, *args):
        conn = self.conn()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()


def make_season(tmp_path: Path, *, web: dict | None = None) -> Season:
    ws = init_workspace(tmp_path / "ws", year=2024, form="project-county", deadline="2025-03-31")
    ws.config["web"] = {**ws.web, "base_url": BASE, **(web or {})}
    save_config(ws)
    ws = open_workspace(ws.root)
    conn = ws.connect()
    save_roster(conn, sample_roster(n_cities=2, counties_per_city=2, projects=2, seed=1))
    conn.close()
    generate(ws)
    return Season(ws, tmp_path)


@pytest.fixture
def season(tmp_path) -> Season:
    return make_season(tmp_path)


def options(**kw) -> WebOptions:
    kw.setdefault("clock", lambda: BEFORE_DEADLINE)
    kw.setdefault("workers", 2)
    return WebOptions(**kw)


@pytest.fixture
def app_for():
    """create_app, closing each app's checker processes at the end of the test."""
    made = []

    def make(season: Season, **kw):
        app = create_app(season.ws, options(**kw))
        made.append(app)
        return app
    yield make
    for app in made:
        app.state.checker.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread of this process."""

    def __init__(self, app) -> None:
        import uvicorn
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
