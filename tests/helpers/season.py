"""A small season for the workspace tests: a roster of sample county units, their workbooks generated."""
from __future__ import annotations

from pathlib import Path

from xlperf.season.generate import generate
from xlperf.season.roster import save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.season.workspace import init_workspace, open_workspace, render_config


def make_workspace(tmp_path: Path, n_cities: int = 2, counties: int = 2, projects: int = 2, *,
                   form: str = "project-county", deadline: str | None = "2025-03-31", **mail):
    """A workspace with `n_cities × counties` units of `projects` projects each, generated; `mail` settings merged in."""
    kw = {"form": form} | ({"deadline": deadline} if deadline else {})
    ws = init_workspace(tmp_path / "ws", year=2024, **kw)
    conn = ws.connect()
    save_roster(conn, sample_roster(n_cities=n_cities, counties_per_city=counties, projects=projects, seed=1))
    conn.close()
    if mail:
        config = dict(ws.config)
        config["mail"] = {**ws.mail, **mail}
        (ws.root / "xlperf.yaml").write_text(render_config(config), encoding="utf-8")
        ws = open_workspace(ws.root)
    generate(ws)
    return ws
