"""A normal install (a built wheel, not `pip install -e`) carries its forms.

The clerk's story: IT builds the wheel, installs it into a fresh environment
and runs xlperf from some other folder. Nothing may come from the checkout.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_venv_has_its_forms_and_runs_the_season(tmp_path):
    # Build from a copy so the checkout gets no build/ or egg-info litter.
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    wheels = tmp_path / "wheels"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XLPERF_TEMPLATES")}
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, src], tmp_path, env)
    assert built.returncode == 0, built.stderr
    wheel, = wheels.glob("xlperf-*.whl")

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", venv], tmp_path, env)
    assert made.returncode == 0, made.stderr
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    installed = _run([bindir / "python", "-m", "pip", "install", "-q", "--no-deps", wheel], tmp_path, env)
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env["COLUMNS"] = "200"
    where = _run([bindir / "python", "-c", "import xlperf; print(xlperf.__file__)"], elsewhere, env)
    assert Path(where.stdout.strip()).resolve().is_relative_to(venv.resolve()), where.stdout   # not the checkout

    xlperf = bindir / "xlperf"
    forms = _run([xlperf, "forms"], elsewhere, env)
    assert forms.returncode == 0 and "project-county" in forms.stdout, forms.stdout + forms.stderr

    made = _run([xlperf, "template", "--form", "project-county", "--year", "2024", "-o", "空白.xlsx"], elsewhere, env)
    assert made.returncode == 0 and (elsewhere / "空白.xlsx").is_file(), made.stdout + made.stderr

    checked = _run([xlperf, "check", "空白.xlsx"], elsewhere, env)
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr      # judged, not unreadable
    assert "not-a-form" not in checked.stdout and "form-empty" in checked.stdout  # recognised: a blank form

    demo = _run([xlperf, "demo", "-o", "演示"], elsewhere, env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert list((elsewhere / "演示" / "reports").glob("*.xlsx"))
