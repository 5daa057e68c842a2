"""The bureau's commands: `xlperf serve --set-password`, `xlperf serve` (Ctrl-C stops it), `xlperf link`, and the demo's hint."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from rich.console import Console

from helpers.webseason import free_port
from xlperf.cli import main
from xlperf.season import db, weblink

REPO = Path(__file__).resolve().parents[2]


def test_set_password_keeps_only_a_salted_hash(season):
    runner = CliRunner()
    res = runner.invoke(main, ["serve", "-w", str(season.ws.root), "--set-password"], input="短密码\n短密码\n")
    assert res.exit_code == 2 and "至少 8 位" in res.output
    res = runner.invoke(main, ["serve", "-w", str(season.ws.root), "--set-password"],
                        input="局端密码-2025\n局端密码-2025\n")
    assert res.exit_code == 0, res.output
    conn = season.conn()
    stored = weblink.password_hash(conn)
    conn.close()
    assert stored.startswith("scrypt$") and weblink.verify_password(stored, "局端密码-2025")
    assert not weblink.verify_password(stored, "局端密码-2026")
    for f in season.ws.root.iterdir():
        if f.is_file():
            assert "局端密码-2025".encode() not in f.read_bytes()


def test_link_lists_each_units_link_and_revoke_replaces_it(season):
    runner = CliRunner()
    res = runner.invoke(main, ["link", "-w", str(season.ws.root)])
    assert res.exit_code == 0, res.output
    for unit in season.units():
        assert f"/u/{season.token(unit)}" in res.output
    unit = season.units()[0]
    old = season.token(unit)
    res = runner.invoke(main, ["link", "-w", str(season.ws.root), unit, "--revoke"])
    assert res.exit_code == 0 and "旧链接已作废" in res.output
    assert season.token(unit) != old and f"/u/{season.token(unit)}" in res.output
    conn = season.conn()
    assert weblink.check_token(season.ws, conn, old) is None
    assert weblink.check_token(season.ws, conn, season.token(unit)).unit_code == unit
    conn.close()
    res = runner.invoke(main, ["link", "-w", str(season.ws.root), "不存在的单位"])
    assert res.exit_code == 2 and "不存在的单位" in res.output


@pytest.mark.slow
def test_serve_prints_its_address_answers_and_stops_cleanly_on_ctrl_c(season):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "xlperf.cli", "serve", "-w", str(season.ws.root), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/u/{season.token(season.units()[0])}", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "server did not come up"
                time.sleep(0.2)
        assert page.status_code == 200 and "已过截止日期 2025-03-31" in page.text     # the real clock: 2025 is over
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}/" in out and "Ctrl-C" in out and "已停止" in out and "Traceback" not in out


@pytest.mark.slow
def test_the_demo_ends_by_saying_how_to_open_the_page(tmp_path):
    from xlperf.demo.run import run_demo
    console = Console(record=True, width=200)
    run_demo(tmp_path / "demo", console)
    text = console.export_text()
    tail = text[text.index("9. 网页提交"):]
    assert "xlperf serve --set-password" in tail and "http://127.0.0.1:8000/admin" in tail and "/u/" in tail
    conn = db.connect(tmp_path / "demo" / "xlperf.sqlite")
    conn.close()
