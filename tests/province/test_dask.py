"""A national bureau checks a province's returns on its Dask cluster, and gets the summary a local run gives.

The test starts a real `dask scheduler` and two `dask worker` processes on
127.0.0.1 (one thread each, no dashboard), then runs the same aggregation
locally and on the cluster. The files travel as bytes, as they would to a
cluster without shared storage.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import openpyxl
import pytest

distributed = pytest.importorskip("distributed")

from xlperf.form.samples import example_form_data  # noqa: E402
from xlperf.form.spec import load_form  # noqa: E402
from xlperf.form.template import TemplateOptions, write_template  # noqa: E402
from xlperf.judge.batch import check_files  # noqa: E402
from xlperf.judge.dask_batch import check_files_dask  # noqa: E402
from xlperf.province.folder import aggregate_paths  # noqa: E402

SPEC = load_form("project-county")
YEAR = 2024
COUNTIES = ("绥宁县", "新宁县", "芙蓉区", "长沙县", "浏阳市", "宁乡市")
PROJECTS = ("城乡居民医疗保险补助资金", "医疗救助补助资金", "医保信息化建设经费", "医保基金监管专项经费")
REPO = Path(__file__).resolve().parents[2]


def write_province(folder: Path) -> list[Path]:
    """24 returns, each with its own money and scores; every seventh has a score above its weight."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(24):
        county, project = COUNTIES[i % len(COUNTIES)], PROJECTS[i // len(COUNTIES)]
        data = example_form_data(SPEC, unit=f"{county}医疗保障局", project=project)
        data.header["department"] = f"{county}医疗保障局"
        budget = 50.0 + 17.25 * i
        data.funds[0].values.update(budget=budget, spent=round(budget * (0.6 + 0.015 * i), 2))
        share = 0.5 + 0.02 * i
        for line in data.indicators:
            w = float(line.weight)
            line.score = round(min(float(line.score), w * share), 2)
            line.reason = "" if line.score >= w else "部分工作未按计划完成，下一步加快进度"
        if i % 7 == 3:
            data.indicators[0].score = float(data.indicators[0].weight) + 5
        path = folder / f"{i:02d}_{county}_{project}.xlsx"
        write_template(SPEC, YEAR, path, data, TemplateOptions(password="pw"))
        files.append(path)
    return files


class Cluster:
    """A scheduler and workers started as our own processes (each in its own process group)."""

    def __init__(self, tmp: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.env, self.tmp = env, tmp
        sched_file = tmp / "scheduler.json"
        self.scheduler = self._start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                      "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)], "scheduler")
        deadline = time.monotonic() + 60
        while not sched_file.exists() or not sched_file.read_text():
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                raise RuntimeError("dask scheduler did not start")
            time.sleep(0.1)
        time.sleep(0.2)
        self.address = json.loads(sched_file.read_text())["address"]
        self.workers = [self._start([sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                                     "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                     "--name", f"w{k}"], f"worker{k}") for k in range(2)]
        with distributed.Client(self.address) as c:
            c.wait_for_workers(2, timeout=60)

    def _start(self, cmd: list[str], name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        return subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the process group we started (the worker and its nanny): a machine that vanished."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def close(self) -> None:
        for p in self.workers + [self.scheduler]:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    self.kill(p)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def returns(tmp_path_factory):
    return write_province(tmp_path_factory.mktemp("returns"))


def sheet_values(path: Path, produced_at: str) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return {ws.title: [tuple("生成时间" if v == produced_at else v for v in row) for row in ws.iter_rows(values_only=True)]
            for ws in wb.worksheets}


@pytest.mark.slow
def test_the_summary_from_the_cluster_is_the_summary_of_a_local_run(cluster, returns, tmp_path):
    local = aggregate_paths([returns[0].parent], out=tmp_path / "本机.xlsx", jobs=1, progress=False, year=YEAR,
                            csv_dir=tmp_path / "csv-local")
    remote = aggregate_paths([returns[0].parent], out=tmp_path / "集群.xlsx", progress=False, year=YEAR,
                             csv_dir=tmp_path / "csv-dask", dask=cluster.address)
    assert remote.counts == local.counts and remote.counts["projects_returned"] == 24
    assert local.counts["projects_valid"] == 24 - 3
    assert remote.totals == local.totals
    assert list(remote.tables) == list(local.tables)
    for name, table in local.tables.items():
        assert remote.tables[name].rows == table.rows, name
    assert sheet_values(tmp_path / "集群.xlsx", remote.produced_at) == sheet_values(tmp_path / "本机.xlsx", local.produced_at)
    for csv in (tmp_path / "csv-local").iterdir():
        assert (tmp_path / "csv-dask" / csv.name).read_bytes() == csv.read_bytes(), csv.name


@pytest.mark.slow
def test_losing_a_worker_mid_run_still_judges_every_file_exactly_once(cluster, returns, tmp_path):
    files = returns * 6            # 144 files, 72 tasks of 2: the run outlives the worker
    local = [r.path for r in check_files(files, jobs=1, progress=False)]
    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        """Watch the scheduler; SIGKILL the first worker seen holding a task."""
        with distributed.Client(cluster.address) as observer:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                names = {a: w["name"] for a, w in observer.scheduler_info()["workers"].items()}
                busy = [names[a] for a, keys in observer.processing().items() if keys and a in names]
                if busy:
                    killed.append(int(str(busy[0])[1:]))
                    cluster.kill(cluster.workers[killed[0]])
                    return
                time.sleep(0.005)

    watcher = threading.Thread(target=kill_a_busy_worker)
    seen = []
    for res in check_files_dask(files, cluster.address, progress=False, chunk=2, in_flight=4):
        if not seen:
            watcher.start()
        seen.append(res)
    watcher.join()
    assert killed, "no worker was seen busy"
    assert [r.path for r in seen] == local
    by_path = {r.path: r for r in check_files(returns, jobs=1, progress=False)}
    assert [(r.errors, r.total_score) for r in seen] == [(by_path[p].errors, by_path[p].total_score) for p in local]
    assert cluster.workers[killed[0]].poll() is not None and cluster.workers[1 - killed[0]].poll() is None


def test_a_scheduler_that_does_not_answer_is_one_clear_line_not_a_traceback(returns, tmp_path, monkeypatch):
    from click.testing import CliRunner

    import xlperf.judge.dask_batch as dask_batch
    from xlperf.cli import main
    monkeypatch.setattr(dask_batch, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:                     # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = CliRunner().invoke(main, ["aggregate", str(returns[0].parent), "-o", str(tmp_path / "汇总.xlsx"),
                                    "--dask", f"tcp://127.0.0.1:{port}"])
    assert res.exit_code == 2
    assert "无法连接 Dask 调度器" in res.output and "[dask-unreachable]" in res.output
    assert not (tmp_path / "汇总.xlsx").exists()
