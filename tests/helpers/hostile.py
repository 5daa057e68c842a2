"""Run the real `xlperf` command on hostile input the way a clerk would, but fenced in.

Each run is a subprocess under an address-space limit (resource.setrlimit) and
a wall-clock timeout; `Run` reports the exit code, the output and the child's
peak resident memory (GNU time's %M: its own and its judging children's), so a test can assert that the run
ended cleanly and a benchmark can print what it cost.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

GIB = 1 << 30
TIME = Path("/usr/bin/time")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    peak_mib: float

    @property
    def text(self) -> str:
        return self.out + self.err


def run_xlperf(*args, limit: int = 3 * GIB, timeout: float = 120, env: dict | None = None,
               prelude: str = "", cwd: Path | None = None) -> Run:
    """`xlperf ARGS…` in a child limited to `limit` bytes of address space; kill it after `timeout` s.

    `prelude` is Python run before the CLI (a test may use it to stand in a reader that hangs).
    """
    def fence() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    import tempfile
    peak_file = Path(tempfile.mkstemp(prefix="xlperf-peak-")[1])
    code = f"{prelude}\nfrom xlperf.cli import main\nmain()"
    argv = [sys.executable, "-c", code, *map(str, args)]
    if TIME.exists():      # GNU time's %M: the command's own peak (its judging children included)
        argv = [str(TIME), "-f", "%M", "-o", str(peak_file), *argv]
    else:                  # fallback: the process reports itself (inflated by whatever forked it)
        argv[2] = ("import atexit, resource\n"
                   "atexit.register(lambda: open(%r, 'w').write(str(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
                   " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))))\n" % str(peak_file)) + code
    full_env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                "COLUMNS": "200", **(env or {})}
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=fence, env=full_env,
                            cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)          # time, xlperf and its judging children: the whole session
        proc.communicate()
        raise AssertionError(f"xlperf {' '.join(map(str, args))} did not finish in {timeout} s")
    seconds = time.monotonic() - start
    try:
        peak = int(peak_file.read_text().strip().splitlines()[-1] or 0) / 1024        # KiB on Linux
    except (OSError, ValueError):
        peak = float("nan")
    finally:
        peak_file.unlink(missing_ok=True)
    print(f"[hostile] xlperf {args[0]}: exit {proc.returncode}, {seconds:.1f} s, peak {peak:.0f} MiB")
    return Run(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), seconds, peak)
