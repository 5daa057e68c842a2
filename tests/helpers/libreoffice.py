"""Headless LibreOffice as a real client for tests.

Each call uses a throwaway profile in which recalculation on load is forced
(OOXMLRecalcMode=0, ODFRecalcMode=0), so what comes back is what LibreOffice
computed, not the cached values our writer stored.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_RECALC = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

FILTERS = {
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "xls": "xls:MS Excel 97",
    "ods": "ods",
    "pdf": "pdf",
    "csv": "csv",
}


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _profile() -> Path:
    prof = Path(tempfile.mkdtemp(prefix="xlperf-lo-"))
    (prof / "user").mkdir()
    (prof / "user" / "registrymodifications.xcu").write_text(_RECALC, encoding="utf-8")
    return prof


def convert(src: Path, fmt: str, outdir: Path, timeout: int = 180) -> Path:
    """Open `src` in LibreOffice (recalculating everything) and save it as `fmt`."""
    return convert_many([src], fmt, outdir, timeout)[0]


def convert_many(srcs: list[Path], fmt: str, outdir: Path, timeout: int = 300) -> list[Path]:
    """`convert` for several files in one LibreOffice start (each start costs seconds)."""
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice (soffice) is not installed; run scripts/test.sh")
    outdir.mkdir(parents=True, exist_ok=True)
    prof = _profile()
    try:
        env = dict(os.environ, HOME=str(prof))
        proc = subprocess.run(
            [exe, f"-env:UserInstallation=file://{prof}", "--headless", "--norestore",
             "--convert-to", FILTERS.get(fmt, fmt), "--outdir", str(outdir), *map(str, srcs)],
            capture_output=True, text=True, timeout=timeout, env=env,
        )
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    outs = [outdir / (Path(s).stem + "." + fmt) for s in srcs]
    missing = [o for o in outs if not o.exists()]
    if missing:
        raise RuntimeError(f"LibreOffice did not write {missing}: {proc.stdout} {proc.stderr}")
    return outs


def run_uno_script(script: str, *args: str, timeout: int = 180, attempts: int = 2) -> str:
    """Run a Python-UNO script (Debian python3-uno) with the system interpreter.

    The script runs after `UNO_PRELUDE` (so it has `desktop`, `pv`, `nv` and
    `args`); we start soffice listening on a private pipe for it. On a loaded
    machine soffice sometimes drops the bridge while starting: one fresh retry.
    """
    exe = soffice()
    if exe is None:
        raise RuntimeError("LibreOffice (soffice) is not installed; run scripts/test.sh")
    error = ""
    for _ in range(attempts):
        prof = _profile()
        pipe = f"xlperf{os.getpid()}{abs(hash(str(prof))) % 100000}"
        env = dict(os.environ, HOME=str(prof))
        office = subprocess.Popen(
            [exe, f"-env:UserInstallation=file://{prof}", "--headless", "--norestore", "--invisible",
             f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        try:
            proc = subprocess.run(
                ["/usr/bin/python3", "-c", UNO_PRELUDE + script, f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext",
                 *args], capture_output=True, text=True, timeout=timeout,
            )
            if proc.returncode == 0:
                return proc.stdout
            error = proc.stderr[-2000:]
        finally:
            office.terminate()
            try:
                office.wait(timeout=20)
            except subprocess.TimeoutExpired:
                office.kill()
            shutil.rmtree(prof, ignore_errors=True)
    raise RuntimeError(f"UNO script failed: {error}")


# Every UNO script starts with this: `uno`, `pv(name, value)`, `nv(name, value)`, `args`
# (the script's own arguments) and `desktop`, connected to the office we started.
UNO_PRELUDE = r'''
import sys, time, uno
from com.sun.star.beans import NamedValue, PropertyValue
def pv(n, v):
    p = PropertyValue(); p.Name = n; p.Value = v; return p
def nv(n, v):
    p = NamedValue(); p.Name = n; p.Value = v; return p
url, args = sys.argv[1], sys.argv[2:]
local = uno.getComponentContext()
resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
for _ in range(300):
    try:
        ctx = resolver.resolve(url)
        break
    except Exception:
        time.sleep(0.2)
desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
'''

_INSERT_ROWS = r'''
src, dst, row, count = args[0], args[1], int(args[2]), int(args[3])
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, (pv("Hidden", True),))
sheet = doc.Sheets.getByIndex(0)
state = "protected" if sheet.isProtected() else "unprotected"
sheet.Rows.insertByIndex(row, count)
doc.storeToURL(uno.systemPathToFileUrl(dst), (pv("FilterName", "Calc MS Excel 2007 XML"),))
doc.close(True)
print(state)
'''


def insert_rows(src: Path, dst: Path, row0: int, count: int = 1) -> str:
    """Insert rows before 0-based `row0` of the first sheet in LibreOffice, as a user would."""
    return run_uno_script(_INSERT_ROWS, str(Path(src).resolve()), str(Path(dst).resolve()), str(row0), str(count)).strip()


_DELETE_ROWS = r'''
src, dst, row, count = args[0], args[1], int(args[2]), int(args[3])
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, (pv("Hidden", True),))
doc.Sheets.getByIndex(0).Rows.removeByIndex(row, count)
doc.storeToURL(uno.systemPathToFileUrl(dst), (pv("FilterName", "Calc MS Excel 2007 XML"),))
doc.close(True)
'''


def delete_rows(src: Path, dst: Path, row0: int, count: int = 1) -> None:
    """Delete rows starting at 0-based `row0` of the first sheet in LibreOffice."""
    run_uno_script(_DELETE_ROWS, str(Path(src).resolve()), str(Path(dst).resolve()), str(row0), str(count))
