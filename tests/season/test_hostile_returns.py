"""One county's broken or hostile file never stalls, crashes or abandons a collection run.

Every test builds its hostile input here, runs the real `xlperf` command in a
subprocess under a memory limit and a timeout (helpers/hostile.py), and checks
both the clean outcome for the bad file and that the good files of the same
run were still collected and judged.
"""
from __future__ import annotations

import io
import sqlite3
import struct
import zipfile
from pathlib import Path

import pytest

from helpers.hostile import GIB, run_xlperf
from xlperf.demo.simulate import fill_return
from xlperf.season.generate import generate
from xlperf.season.roster import save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.season.workspace import init_workspace


@pytest.fixture
def ws(tmp_path):
    ws = init_workspace(tmp_path / "ws", year=2024, form="project-county", deadline="2025-03-31")
    conn = ws.connect()
    save_roster(conn, sample_roster(n_cities=1, counties_per_city=2, projects=2, seed=1))
    conn.close()
    generate(ws)
    return ws


def good_returns(ws, tmp_path: Path, n: int) -> list[Path]:
    out = tmp_path / "filled"
    out.mkdir(exist_ok=True)
    return [fill_return(p, out / p.name, seed=i) for i, p in enumerate(sorted(ws.outbox.glob("*.xlsx"))[:n])]


def judged(ws) -> dict[str, str]:
    """Original file name → status, as the ledger has it."""
    conn = sqlite3.connect(ws.db_path)
    rows = conn.execute("SELECT f.original_name, r.status FROM returns r JOIN files f USING (sha256)").fetchall()
    conn.close()
    return dict(rows)


def collect(ws, source, **kw):
    run = run_xlperf("collect", "-w", ws.root, "--from", source, limit=kw.pop("limit", 2 * GIB),
                     timeout=kw.pop("timeout", 120), **kw)
    assert "Traceback" not in run.text, run.text
    return run


# ------------------------------------------------------------------ zip members


def patch_member(data: bytes, name: str, *, method: int | None = None, flags: int | None = None) -> bytes:
    """Rewrite a member's compression method / flag bits in both its local and central headers."""
    buf = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    central = None
    # local header: flags at +6, method at +8; central header: flags at +8, method at +10
    local = info.header_offset
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        nlen = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + nlen] == info.orig_filename.encode("utf-8") or \
                data[pos + 46:pos + 46 + nlen] == info.orig_filename.encode("cp437", "replace"):
            central = pos
            break
        pos = data.find(b"PK\x01\x02", pos + 4)
    for off, fo, mo in ((local, 6, 8), (central, 8, 10)):
        if flags is not None:
            struct.pack_into("<H", buf, off + fo, struct.unpack_from("<H", buf, off + fo)[0] | flags)
        if method is not None:
            struct.pack_into("<H", buf, off + mo, method)
    return bytes(buf)


def corrupt_deflate(data: bytes, name: str) -> bytes:
    buf = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset + 30 + len(info.orig_filename.encode()) + len(info.extra)
    for k in range(start + 5, start + min(info.compress_size, 400), 7):
        buf[k] ^= 0x5A
    return bytes(buf)


def nested(depth: int, payload_name: str, payload: bytes) -> bytes:
    data, name = payload, payload_name
    for i in range(depth):
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w", zipfile.ZIP_STORED) as z:
            z.writestr(name, data)
        data, name = bio.getvalue(), f"第{i}层.zip"
    return data


def test_bad_zip_members_each_get_a_message_and_the_good_ones_are_collected(ws, tmp_path):
    good = good_returns(ws, tmp_path, 4)
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("回收/" + good[0].name, good[0].read_bytes())
        for bad in ("设了密码.xlsx", "AES加密.xlsx", "大文件.xlsx", "坏数据.xlsx"):
            z.writestr("回收/" + bad, good[3].read_bytes())
        z.writestr("回收/" + good[1].name, good[1].read_bytes())
    data = bio.getvalue()
    data = patch_member(data, "回收/设了密码.xlsx", flags=0x1)
    data = patch_member(data, "回收/AES加密.xlsx", flags=0x1, method=99)
    data = patch_member(data, "回收/大文件.xlsx", method=9)
    data = corrupt_deflate(data, "回收/坏数据.xlsx")
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "汇总.zip").write_bytes(data)
    (inbox / "嵌套.zip").write_bytes(nested(1500, "最里面.xlsx", good[3].read_bytes()))
    (inbox / good[2].name).write_bytes(good[2].read_bytes())

    run = collect(ws, inbox)

    assert run.code == 0, run.text
    text = run.text.replace("\n", "")
    assert "设了密码.xlsx：设置了密码，无法解压" in text
    assert "AES加密.xlsx：使用 WinZip AES 加密" in text
    assert "大文件.xlsx：使用 Deflate64" in text
    assert "坏数据.xlsx：压缩数据已损坏" in text
    assert "压缩包嵌套超过 8 层" in text
    assert judged(ws) == {good[0].name: "valid", good[1].name: "valid", good[2].name: "valid"}


def test_a_zip_of_overlapping_entries_is_refused_at_once(ws, tmp_path):
    """The "overlapping entries" bomb: many central-directory entries share one deflate stream."""
    good = good_returns(ws, tmp_path, 1)
    bio = io.BytesIO()                # one real member, then 400 central entries pointing at it
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner.zip", b"\0" * 20_000_000)
    one = bio.getvalue()
    cd = one.index(b"PK\x01\x02")
    eocd = one.index(b"PK\x05\x06")
    entry = one[cd:eocd]
    entries = b"".join(entry.replace(b"inner.zip", f"inner{i:03d}.zip"[:9].encode()) for i in range(400))
    tail = bytearray(one[eocd:])
    struct.pack_into("<HHII", tail, 8, 400, 400, len(entries), cd)
    bomb = one[:cd] + entries + bytes(tail)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "炸弹.zip").write_bytes(bomb)
    (inbox / good[0].name).write_bytes(good[0].read_bytes())

    run = collect(ws, inbox, timeout=60)

    assert run.code == 0 and "压缩炸弹" in run.text.replace("\n", ""), run.text
    assert judged(ws) == {good[0].name: "valid"}


# ------------------------------------------------------------------ names and counts


class RawName(zipfile.ZipInfo):
    """A member name written in a legacy code page, without the UTF-8 flag."""

    encoding = "cp437"

    def _encodeFilenameFlags(self):
        return self.filename.encode(self.encoding), self.flag_bits & ~0x800


def raw_name(name: str, encoding: str) -> RawName:
    info = RawName(name)
    info.encoding = encoding
    return info


def test_zip_names_are_decoded_as_common_unzip_tools_do(tmp_path):
    from xlperf.season.unzip import member_name
    path = tmp_path / "names.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(raw_name("Résumé.xlsx", "cp437"), b"x")
        z.writestr(raw_name("回收/某县医保局自评表.xlsx", "gbk"), b"x")
        z.writestr("ünïcode 名称.xlsx", b"x")              # UTF-8 flag set by zipfile
    with zipfile.ZipFile(path) as z:
        assert [member_name(i) for i in z.infolist()] == ["Résumé.xlsx", "回收/某县医保局自评表.xlsx", "ünïcode 名称.xlsx"]


def test_members_past_the_cap_and_dotdot_names_are_reported(ws, tmp_path):
    good = good_returns(ws, tmp_path, 2)
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(good[0].name, good[0].read_bytes())
        z.writestr("..\\..\\Windows\\evil.xlsx", good[1].read_bytes())
        z.writestr("../etc/evil2.xlsx", good[1].read_bytes())
        for i in range(5010):
            z.writestr(f"杂项/{i:05d}.txt", b"")
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "很多文件.zip").write_bytes(bio.getvalue())
    (inbox / good[1].name).write_bytes(good[1].read_bytes())

    run = collect(ws, inbox)

    text = run.text.replace("\n", "")
    assert run.code == 0, run.text
    assert "有 5,013 个文件，超过上限 5,000 个，后面的 13 个未收集" in text
    assert "evil.xlsx：文件名含上级目录" in text and "evil2.xlsx：文件名含上级目录" in text
    statuses = judged(ws)
    assert statuses[good[0].name] == "valid" and statuses[good[1].name] == "valid"


def test_a_second_collect_run_says_another_is_in_progress(ws, tmp_path):
    from xlperf.season.lock import workspace_lock
    good = good_returns(ws, tmp_path, 1)
    with workspace_lock(ws.root):
        run = collect(ws, good[0].parent)
        assert run.code == 2 and "另一个收集（collect）正在此工作区运行" in run.text
        assert judged(ws) == {}
    run = collect(ws, good[0].parent)
    assert run.code == 0 and judged(ws) == {good[0].name: "valid"}


# ------------------------------------------------------------------ remind


def test_remind_reports_a_units_failure_and_still_mails_the_others(tmp_path):
    """One return's stored copy cannot be re-opened; another unit's name is 95 Chinese characters long."""
    from dataclasses import replace
    ws = init_workspace(tmp_path / "ws", year=2024, form="project-county", deadline="2025-03-31")
    rows = sample_roster(n_cities=1, counties_per_city=3, projects=1, seed=1)
    long_unit = "某某省某某市某某县" + "医疗保障事务服务中心" * 8 + "城乡居民医疗保险基金管理办公室"
    assert len(long_unit) >= 95
    rows[1] = replace(rows[1], unit_name=long_unit)
    conn = ws.connect()
    save_roster(conn, rows)
    conn.close()
    generate(ws)
    inbox = tmp_path / "in"
    inbox.mkdir()
    for i, p in enumerate(sorted(ws.outbox.glob("*.xlsx"))):
        assert len(p.name.encode()) <= 255
        fill_return(p, inbox / p.name, seed=i, mistakes=("score-above-weight",))
    nan = sorted(inbox.glob("*.xlsx"))[2]           # a NaN cell: our reader takes it, openpyxl cannot open it
    part = sheet_part(nan)
    rewrite(nan, tmp_path / "nan.xlsx", {part: lambda d: d.replace(
        b"</sheetData>", b'<row r="300"><c r="Z300"><v>NaN</v></c></row></sheetData>', 1)}).replace(nan)
    assert collect(ws, inbox).code == 0
    statuses = judged(ws)
    assert sorted(statuses.values()) == ["errors"] * 3
    conn = sqlite3.connect(ws.db_path)
    lost_sha, lost_name = conn.execute(
        "SELECT r.sha256, f.original_name FROM returns r JOIN files f USING (sha256) ORDER BY f.original_name").fetchone()
    conn.close()
    lost = ws.store_dir / lost_sha[:2] / lost_sha
    lost.chmod(0o644)
    lost.unlink()

    run = run_xlperf("remind", "-w", ws.root, "--dry-run", limit=2 * GIB, timeout=120)

    assert "Traceback" not in run.text and run.code == 1, run.text
    assert "更正表未能生成" in run.text.replace("\n", "")
    emls = list((ws.root / "sent").glob("*.eml"))
    assert len([e for e in emls if "催报" in e.name]) == 3          # every unit was still reminded
    assert any(len(e.name.encode()) <= 255 and "医疗保障事务服务中心" in e.name for e in emls)
    copies = list(ws.feedback_dir.rglob("*_更正.xlsx"))              # the NaN return's copy rebuilt from values
    assert len(copies) == 2 and all(len(c.name.encode()) <= 255 for c in copies)
    assert run.text.count("更正表未能生成") == 1


# ------------------------------------------------------------------ check output


def _named_cell(wb, name: str):
    from openpyxl.utils.cell import range_boundaries
    (sheet, ref), = list(wb.defined_names[name].destinations)
    c0, r0, _, _ = range_boundaries(ref.replace("$", ""))
    return wb[sheet].cell(r0, c0)


def test_check_shows_markup_in_names_as_text_and_serializes_dates(ws, tmp_path):
    import datetime as dt
    import json

    import openpyxl
    good = good_returns(ws, tmp_path, 2)
    odd = tmp_path / "odd.xlsx"
    wb = openpyxl.load_workbook(good[0])
    _named_cell(wb, "unit").value = "[/]某县[bold]医保局"
    _named_cell(wb, "project_name").value = "[red]项目[/red]"
    _named_cell(wb, "ind_actual").value = dt.datetime(2024, 12, 31)
    wb.save(odd)

    plain = run_xlperf("check", odd, good[1], limit=2 * GIB, timeout=120)
    assert "Traceback" not in plain.text and plain.code in (0, 1), plain.text
    assert "[/]某县[bold]医保局" in plain.out and "[red]项目[/red]" in plain.out
    assert "共 2 个文件" in plain.out

    as_json = run_xlperf("check", "--json", odd, good[1], limit=2 * GIB, timeout=120)
    assert "Traceback" not in as_json.text and as_json.code in (0, 1), as_json.text
    files = json.loads(as_json.out)["files"]
    assert [f["unit"] for f in files][0] == "[/]某县[bold]医保局" and len(files) == 2
    assert "2024-12-31" in json.dumps(files[0], ensure_ascii=False)


# ------------------------------------------------------------------ time budget

# Stands in a reader that hangs or aborts on a marked file (the marker is a zip comment, so the
# file is otherwise a good return): what matters here is what the run does around it.
STUCK_READER = """
import os, time
import xlperf.judge.check as _check
_read = _check.read_grid
def _stuck(path, **kw):
    data = open(path, 'rb').read()
    if b'HANG-ME' in data:
        time.sleep(3600)
    if b'CRASH-ME' in data:
        os.abort()
    return _read(path, **kw)
_check.read_grid = _stuck
"""


def marked(src: Path, dest: Path, marker: bytes) -> Path:
    dest.write_bytes(src.read_bytes())
    with zipfile.ZipFile(dest, "a") as z:
        z.comment = marker
    return dest


def findings_of(ws, name: str) -> set[str]:
    conn = sqlite3.connect(ws.db_path)
    rows = conn.execute("SELECT fd.code FROM findings fd JOIN returns r ON r.id = fd.return_id "
                        "JOIN files f USING (sha256) WHERE f.original_name = ?", (name,)).fetchall()
    conn.close()
    return {r[0] for r in rows}


def test_a_file_that_hangs_or_kills_its_reader_is_judged_once_and_the_run_goes_on(ws, tmp_path):
    good = good_returns(ws, tmp_path, 4)
    inbox = tmp_path / "in"
    inbox.mkdir()
    marked(good[0], inbox / "卡住.xlsx", b"HANG-ME")
    marked(good[1], inbox / "崩溃.xlsx", b"CRASH-ME")
    for p in good[2:]:
        (inbox / p.name).write_bytes(p.read_bytes())
    env = {"XLPERF_FILE_TIMEOUT": "2"}

    run = collect(ws, inbox, env=env, prelude=STUCK_READER, timeout=60)

    assert run.code == 0, run.text
    assert judged(ws) == {"卡住.xlsx": "unreadable", "崩溃.xlsx": "unreadable",
                          good[2].name: "valid", good[3].name: "valid"}
    assert findings_of(ws, "卡住.xlsx") == {"check-timeout"}
    assert findings_of(ws, "崩溃.xlsx") == {"reader-crashed"}
    again = collect(ws, inbox, env=env, prelude=STUCK_READER, timeout=60)
    assert again.code == 0 and "新收到 0 个，重复 4 个" in again.out, again.text


def test_check_and_aggregate_give_a_hanging_file_its_own_finding(ws, tmp_path):
    import json
    good = good_returns(ws, tmp_path, 2)
    folder = tmp_path / "many"
    folder.mkdir()
    marked(good[0], folder / "00卡住.xlsx", b"HANG-ME")
    for i in range(40):                      # more than one chunk of the worker pool
        (folder / f"{i + 1:02d}.xlsx").write_bytes(good[1].read_bytes())
    env = {"XLPERF_FILE_TIMEOUT": "2"}

    checked = run_xlperf("check", "--json", "--timeout", "2", folder / "00卡住.xlsx", folder / "01.xlsx",
                         prelude=STUCK_READER, timeout=60)
    assert checked.code == 2 and "Traceback" not in checked.text, checked.text
    codes = [[f["code"] for f in r["findings"]] for r in json.loads(checked.out)["files"]]
    assert codes == [["check-timeout"], ["signature-unverified"]]      # outside a workspace: said, not an error

    summary = tmp_path / "汇总.xlsx"
    agg = run_xlperf("aggregate", folder, "-o", summary, "--jobs", "2", env=env, prelude=STUCK_READER, timeout=120)
    assert agg.code == 0 and "Traceback" not in agg.text, agg.text
    import openpyxl
    issues = [r for r in openpyxl.load_workbook(summary, read_only=True)["问题清单"].iter_rows(values_only=True)]
    assert any("check-timeout" in map(str, r) for r in issues), issues[:3]


# ------------------------------------------------------------------ hangs and memory in one file

def rewrite(src: Path, dest: Path, edit: dict, *, declared: dict | None = None) -> Path:
    """Copy an xlsx, passing chosen parts through `edit[name](bytes) -> bytes`."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename in edit:
                data = edit[info.filename](data)
            zout.writestr(info.filename, data, compresslevel=9 if len(data) > 10_000_000 else None)
    return dest


def sheet_part(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return next(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))


def check_json(*paths, **kw):
    import json
    run = run_xlperf("check", "--json", *paths, limit=3 * GIB, timeout=kw.pop("timeout", 90), **kw)
    assert "Traceback" not in run.text and run.code in (0, 1, 2), run.text
    return run, {Path(f["path"]).name: f for f in json.loads(run.out)["files"]}


def test_names_claiming_a_hundred_billion_rows_and_far_columns_do_not_hang(ws, tmp_path):
    import re
    good = good_returns(ws, tmp_path, 2)
    far_rows = rewrite(good[0], tmp_path / "远行.xlsx", {"xl/workbook.xml": lambda d: re.sub(
        rb"(<definedName name=\"ind_[a-z0-9_]+\"[^>]*>[^<]*?:\$[A-Z]+\$)\d+", rb"\g<1>99999999999", d)})
    part = sheet_part(good[0])
    far_cols = rewrite(good[0], tmp_path / "远列.xlsx", {part: lambda d: d.replace(
        b"</row>", b'<c r="ZZZZZZZC5" t="inlineStr"><is><t>x</t></is></c></row>', 1)})

    def many_sheets(d: bytes) -> bytes:
        m = re.search(rb"<sheet [^>]*/>", d)
        extra = b"".join(re.sub(rb'name="[^"]*"', b'name="S%d"' % i, re.sub(rb'sheetId="\d+"', b'sheetId="%d"' % (i + 100),
                                                                          m.group(0))) for i in range(400))
        return d[:m.end()] + extra + d[m.end():]
    many = rewrite(good[0], tmp_path / "四百页.xlsx", {"xl/workbook.xml": many_sheets})

    run, files = check_json(far_rows, far_cols, many, good[1])

    assert files["远列.xlsx"]["findings"][0]["code"] == "file-corrupt"
    assert "超出表格范围" in files["远列.xlsx"]["findings"][0]["message"]
    assert files["远行.xlsx"]["readable"] and files["四百页.xlsx"]["readable"]
    assert files["四百页.xlsx"]["unit"] == files[good[0].name if good[0].name in files else "远行.xlsx"]["unit"]
    assert files[good[1].name]["errors"] == 0 and files[good[1].name]["form"]
    assert run.peak_mib < 1024


def test_bombs_huge_rows_and_merges_are_refused_within_a_gib(ws, tmp_path):
    good = good_returns(ws, tmp_path, 2)
    part = sheet_part(good[0])
    pad = b"<!-- " + b"0" * 300_000_000 + b" -->"
    bomb = rewrite(good[0], tmp_path / "炸弹.xlsx", {part: lambda d: d.replace(b"<sheetData>", pad + b"<sheetData>", 1)})
    row = b'<row r="200">' + b"<c/>" * 3_700_000 + b"</row>"
    wide = rewrite(good[0], tmp_path / "一行.xlsx", {part: lambda d: d.replace(b"</sheetData>", row + b"</sheetData>", 1)})
    merges = b"".join(b'<mergeCell ref="A%d:T%d"/>' % (1000 + 1000 * i, 1999 + 1000 * i) for i in range(6000))

    def merged(d: bytes) -> bytes:
        import re
        d = re.sub(rb"<mergeCells[^>]*>.*?</mergeCells>", b"", d, flags=re.S)
        return d.replace(b"</sheetData>", b"</sheetData><mergeCells>" + merges + b"</mergeCells>", 1)
    many_merged = rewrite(good[0], tmp_path / "合并.xlsx", {part: merged})
    feedback = tmp_path / "反馈"

    run, files = check_json(bomb, wide, many_merged, good[1], timeout=180)
    codes = {n: f["findings"][0]["code"] for n, f in files.items() if not f["readable"]}
    assert codes == {"炸弹.xlsx": "file-too-large", "一行.xlsx": "file-too-large", "合并.xlsx": "file-too-large"}
    assert files[good[1].name]["form"] and files[good[1].name]["errors"] == 0
    assert run.peak_mib < 1024, run.peak_mib
    with_copies = run_xlperf("check", many_merged, good[1], "--feedback", feedback, limit=3 * GIB, timeout=180)
    assert "Traceback" not in with_copies.text and with_copies.peak_mib < 1024
    assert len(list(feedback.glob("*.xlsx"))) == 0      # refused, and the good one has nothing to correct


def test_a_3_gb_file_in_a_collected_folder_is_refused_unread(ws, tmp_path):
    good = good_returns(ws, tmp_path, 1)
    inbox = tmp_path / "in"
    inbox.mkdir()
    with open(inbox / "巨大.xlsx", "wb") as fh:      # sparse: no disk space, but 3 GB to whoever reads it
        fh.truncate(3 * GIB)
    (inbox / good[0].name).write_bytes(good[0].read_bytes())

    run = collect(ws, inbox, limit=3 * GIB)

    assert run.code == 0 and "巨大.xlsx：文件有 3,221 MB，超过上限 50 MB，未收集" in run.text.replace("\n", ""), run.text
    assert judged(ws) == {good[0].name: "valid"} and run.peak_mib < 1024


# ------------------------------------------------------------------ store and ledger

DISK_FILLS_UP = """
import errno, itertools
import xlperf.season.store as _store
_put, _n = _store._put, itertools.count()
def _full(store_dir, data):
    if next(_n) >= 1:
        raise OSError(errno.ENOSPC, "No space left on device", str(store_dir))
    return _put(store_dir, data)
_store._put = _full
"""


def test_a_full_disk_stops_collect_with_one_message_and_nothing_half_written(ws, tmp_path):
    good = good_returns(ws, tmp_path, 3)
    stale = ws.store_dir / "ab" / ".tmp-left-by-a-killed-run"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"half")

    run = collect(ws, good[0].parent, prelude=DISK_FILLS_UP)

    assert run.code == 2 and "文件库无法写入：磁盘已满" in run.err and str(ws.store_dir) in run.err, run.text
    assert not stale.exists()
    stored = {p.name for p in ws.store_dir.rglob("*") if p.is_file()}
    conn = sqlite3.connect(ws.db_path)
    known = {r[0] for r in conn.execute("SELECT sha256 FROM files")}
    conn.close()
    assert stored == known and len(known) == 1
    assert list(judged(ws).values()) == ["valid"]
    again = collect(ws, good[0].parent)                       # space freed: the run completes
    assert again.code == 0 and sorted(judged(ws).values()) == ["valid"] * 3


LEDGER_READ_ONLY = """
import sqlite3
import xlperf.season.db as _db
_record = _db.record_receipt
def _ro(conn, *a, **kw):
    if conn.execute("SELECT COUNT(*) FROM receipts").fetchone()[0] >= 1:
        raise sqlite3.OperationalError("attempt to write a readonly database")
    return _record(conn, *a, **kw)
_db.record_receipt = _ro
"""


def test_a_read_only_ledger_stops_collect_with_one_message_and_no_unknown_stored_file(ws, tmp_path):
    good = good_returns(ws, tmp_path, 2)

    run = collect(ws, good[0].parent, prelude=LEDGER_READ_ONLY)

    assert run.code == 2 and "台账数据库是只读的" in run.err and str(ws.db_path) in run.err, run.text
    stored = {p.name for p in ws.store_dir.rglob("*") if p.is_file()}
    conn = sqlite3.connect(ws.db_path)
    known = {r[0] for r in conn.execute("SELECT sha256 FROM files")}
    conn.close()
    assert stored == known and len(known) == 1


# ------------------------------------------------------------------ fuzz


def mutations(data: bytes, seed: int, count: int):
    """Seeded damage to a legitimate return: XML byte flips, structural edits, zip-level flips."""
    import random
    rng = random.Random(seed)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    xml_names = [n for n in parts if n.endswith((".xml", ".rels"))]
    for k in range(count):
        kind = k % 3
        if kind == 2:                                   # zip level: flip bytes anywhere in the container
            buf = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            yield f"zip{k:03d}.xlsx", bytes(buf)
            continue
        name = rng.choice(xml_names)
        part = bytearray(parts[name])
        if kind == 0:                                   # XML byte flips
            for _ in range(rng.randint(1, 6)):
                part[rng.randrange(len(part))] = rng.choice(b'<>/"=&;: 0123456789ZAr\x00\xff')
        else:                                           # structural: drop, duplicate or truncate a stretch
            a = rng.randrange(len(part))
            b = min(len(part), a + rng.randint(1, 400))
            part = rng.choice([part[:a] + part[b:], part[:b] + part[a:b] + part[b:], part[:a]])
        bio = io.BytesIO()
        with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
            for n, d in parts.items():
                z.writestr(n, bytes(part) if n == name else d)
        yield f"{('xml', 'struct')[kind]}{k:03d}.xlsx", bio.getvalue()


def test_fuzzed_returns_give_exit_0_1_or_2_with_json_and_never_a_traceback(ws, tmp_path):
    good = good_returns(ws, tmp_path, 1)[0]
    folder = tmp_path / "fuzz"
    folder.mkdir()
    names = []
    for name, data in mutations(good.read_bytes(), seed=20241204, count=90):
        (folder / name).write_bytes(data)
        names.append(name)

    run, files = check_json(folder, timeout=300)

    assert run.code in (0, 1, 2) and sorted(files) == sorted(names)
    assert all(f["readable"] or f["findings"] for f in files.values())
    assert not any(c["code"] == "check-failed" for f in files.values() for c in f["findings"]), \
        [n for n, f in files.items() if any(c["code"] == "check-failed" for c in f["findings"])]


# ------------------------------------------------------------------ fooling the checks


def copy_identity(donor: Path, into: Path) -> None:
    """Put the donor's hidden `_xlperf` sheet (identity, pre-fill, signature) into another workbook."""
    import openpyxl
    src = openpyxl.load_workbook(donor)["_xlperf"]
    wb = openpyxl.load_workbook(into)
    meta = wb["_xlperf"]
    for row in src.iter_rows():
        for c in row:
            meta.cell(c.row, c.column).value = c.value
    wb.save(into)


def zipfile_text(data: bytes) -> bytes:
    """Every part of an xlsx, unzipped, as one byte string (to look for a unit's name in it)."""
    import io
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return b"".join(z.read(n) for n in z.namelist())


def test_a_copied_identity_sheet_never_takes_over_another_units_return(ws, tmp_path):
    import time
    files = sorted(ws.outbox.glob("*.xlsx"))
    x = files[0]
    y = next(p for p in files if p.name.split("_")[1] != x.name.split("_")[1])
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    fill_return(x, first / x.name, seed=1)
    assert collect(ws, first).code == 0 and judged(ws) == {x.name: "valid"}
    time.sleep(1.1)                                   # received_at has one-second resolution
    forged = fill_return(y, later / y.name, seed=2, mistakes=("score-above-weight",))
    copy_identity(x, forged)

    run = collect(ws, later)

    assert run.code == 0, run.text
    assert judged(ws) == {x.name: "valid", y.name: "errors"}
    conn = sqlite3.connect(ws.db_path)
    conn.row_factory = sqlite3.Row
    rows = {r["original_name"]: r for r in conn.execute(
        "SELECT f.original_name, r.superseded_by, r.matched_by, ro.unit_name FROM returns r JOIN files f USING (sha256) "
        "LEFT JOIN roster ro ON ro.id = r.roster_id")}
    msg = conn.execute("SELECT message FROM findings WHERE code = 'identity-mismatch'").fetchone()[0]
    x_unit = conn.execute("SELECT unit_name FROM roster ORDER BY row_no, id").fetchone()[0]
    conn.close()
    assert rows[x.name]["superseded_by"] is None                       # X's valid return stands
    assert rows[y.name]["matched_by"] != "signature" and rows[y.name]["unit_name"] != x_unit
    assert x_unit in msg and rows[y.name]["unit_name"] in msg            # the error names both units
    reminded = run_xlperf("remind", "-w", ws.root, "--dry-run", timeout=120)
    assert "Traceback" not in reminded.text
    from email import policy
    from email.parser import BytesParser
    y_unit = y.name.split("_")[1]
    for eml in (ws.root / "sent").glob("*催报*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
        if x_unit not in str(msg["Subject"]):
            continue
        for part in msg.iter_attachments():     # X may get its own pre-filled workbook again, never Y's data
            assert y_unit not in (part.get_filename() or "")
            assert y_unit.encode() not in zipfile_text(part.get_content())


def test_standalone_check_compares_visible_prefill_with_the_signed_one(ws, tmp_path):
    import json

    import openpyxl
    good = good_returns(ws, tmp_path, 1)[0]
    cases = {}

    def variant(name: str, edit) -> None:
        wb = openpyxl.load_workbook(good)
        edit(wb)
        wb.save(tmp_path / name)
        cases[name] = tmp_path / name

    def times_ten(wb):
        c = _named_cell(wb, "funds_current_budget")
        c.value = float(c.value) * 10

    def garble(wb):
        c = _named_cell(wb, "xlperf_signature")
        c.value = ("0" if c.value[0] != "0" else "1") + c.value[1:]

    variant("预算乘十.xlsx", times_ten)
    variant("改单位.xlsx", lambda wb: setattr(_named_cell(wb, "unit"), "value", "另一个县医疗保障局"))
    variant("降目标.xlsx", lambda wb: setattr(_named_cell(wb, "ind_target"), "value", "≥1%"))
    variant("坏签名.xlsx", garble)
    elsewhere = tmp_path / "不是工作区"
    elsewhere.mkdir()

    plain = run_xlperf("check", "--json", *cases.values(), good, cwd=elsewhere, timeout=120)
    assert plain.code == 1 and "Traceback" not in plain.text, plain.text
    by = {Path(f["path"]).name: f for f in json.loads(plain.out)["files"]}
    codes = {n: {c["code"] for c in f["findings"]} for n, f in by.items()}
    assert "target-changed" in codes["预算乘十.xlsx"] and "target-changed" in codes["降目标.xlsx"]
    assert "identity-mismatch" in codes["改单位.xlsx"]
    assert all("signature-unverified" in codes[n] for n in cases if n != "坏签名.xlsx")
    assert codes[good.name] == {"signature-unverified"} and by[good.name]["errors"] == 0

    keyed = run_xlperf("check", "--json", "--workspace", ws.root, cases["坏签名.xlsx"], good, timeout=120)
    by = {Path(f["path"]).name: {c["code"] for c in f["findings"]} for f in json.loads(keyed.out)["files"]}
    assert keyed.code == 1 and "signature-invalid" in by["坏签名.xlsx"] and by[good.name] == set(), keyed.text


def test_dangerous_content_gets_a_warning_and_never_travels_into_the_feedback_copy(ws, tmp_path):
    import openpyxl
    good = good_returns(ws, tmp_path, 2)
    risky = tmp_path / "危险.xlsx"
    wb = openpyxl.load_workbook(good[0])
    sheet = _named_cell(wb, "unit").parent
    sheet["Z50"] = "=cmd|' /C calc'!A0"
    sheet["Z51"] = "=[1]Sheet1!A1"
    sheet["Z52"] = "=SUM('\\\\fileserver\\share\\[账.xlsx]表'!A1)"
    sheet["Z53"] = "点此查看"
    sheet["Z53"].hyperlink = "javascript:alert(1)"
    wb.save(risky)
    with zipfile.ZipFile(risky, "a") as z:
        z.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")
    out = tmp_path / "反馈"

    run, files = check_json(risky, good[1], "--feedback", out)

    warned = [f["message"] for f in files["危险.xlsx"]["findings"] if f["code"] == "dangerous-content"]
    assert any("DDE" in m for m in warned) and any("外部链接公式" in m for m in warned)
    assert any("UNC" in m for m in warned) and any("javascript:" in m for m in warned)
    assert any("VBA" in m for m in warned)
    assert files[good[1].name]["errors"] == 0 and not files[good[1].name]["findings"][1:]
    copy = next(p for p in out.glob("*.xlsx") if p.name.startswith("危险"))
    import re
    with zipfile.ZipFile(copy) as z:
        assert not any("vbaProject" in n or "externalLink" in n for n in z.namelist())
        formulas = b"".join(b"".join(re.findall(rb"<f[ >].*?</f>", z.read(n))) for n in z.namelist()
                            if n.startswith("xl/worksheets/sheet"))
        rels = b"".join(z.read(n) for n in z.namelist() if n.endswith(".rels"))
    assert formulas and not any(x in formulas for x in (b"cmd|", b"[1]", b"fileserver"))   # the form's own stay
    assert b"javascript:" not in rels


def test_entity_declarations_are_refused_in_utf16_parts_too(ws, tmp_path):
    good = good_returns(ws, tmp_path, 2)
    part = sheet_part(good[0])

    def utf16(doctype: bool):
        def edit(d: bytes) -> bytes:
            text = d.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
            if doctype:
                lol = '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                head, sep, rest = text.partition("?>")
                text = head + sep + lol + rest if sep else lol + text
            return text.encode("utf-16")          # with BOM, as some tools write it
        return edit
    entities = rewrite(good[0], tmp_path / "实体.xlsx", {part: utf16(True)})
    plain16 = rewrite(good[0], tmp_path / "十六位.xlsx", {part: utf16(False)})

    run, files = check_json(entities, plain16, good[1])

    assert files["实体.xlsx"]["findings"][0]["code"] == "file-corrupt" and not files["实体.xlsx"]["readable"]
    assert files["十六位.xlsx"]["readable"] and files["十六位.xlsx"]["unit"]          # no false alarm
    assert files[good[1].name]["errors"] == 0


def test_a_file_system_error_anywhere_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "不是文件夹"
    blocker.write_text("x")
    run = run_xlperf("template", "--year", 2024, "-o", blocker / "自评表.xlsx", timeout=60)
    assert run.code == 2 and "Traceback" not in run.text
    assert "不是文件夹：已有同名的文件或文件夹，操作已停止" in run.err


def hand_made_ods(path: Path, cells_xml: bytes) -> Path:
    """An .ods as a zip of its parts: enough for xlperf to take it for LibreOffice's."""
    content = (b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
               b'<table:table table:name="Sheet1"><table:table-row>' + cells_xml +
               b'</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
    return path


def test_an_ods_with_millions_of_cells_in_one_row_is_refused_before_it_is_parsed(ws, tmp_path):
    good = good_returns(ws, tmp_path, 1)[0]
    wide = hand_made_ods(tmp_path / "一行.ods", b"<table:table-cell/>" * 3_700_000)

    run, files = check_json(wide, good)

    assert files["一行.ods"]["findings"][0]["code"] == "file-too-large"
    assert files[good.name]["form"] and files[good.name]["errors"] == 0
    assert run.peak_mib < 1024


@pytest.mark.slow
def test_a_big_sheet_listed_400_times_is_parsed_once_row_by_row(ws, tmp_path):
    """400 <sheet> entries point at one part of 250,000 extra rows (about 20 MB of XML)."""
    import re
    good = good_returns(ws, tmp_path, 2)
    part = sheet_part(good[0])
    filler = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c></row>' % (i, i, b"x" * 40)
                      for i in range(1000, 251000))

    def many_sheets(d: bytes) -> bytes:
        m = re.search(rb"<sheet [^>]*/>", d)
        extra = b"".join(re.sub(rb'name="[^"]*"', b'name="S%d"' % i, re.sub(rb'sheetId="\d+"', b'sheetId="%d"' % (i + 100),
                                                                          m.group(0))) for i in range(400))
        return d[:m.end()] + extra + d[m.end():]
    big = rewrite(good[0], tmp_path / "大表四百页.xlsx", {"xl/workbook.xml": many_sheets,
                                                       part: lambda d: d.replace(b"</sheetData>", filler + b"</sheetData>", 1)})

    run, files = check_json(big, good[1], timeout=120)

    assert files["大表四百页.xlsx"]["readable"] and files["大表四百页.xlsx"]["unit"], files["大表四百页.xlsx"]
    assert files[good[1].name]["errors"] == 0
    assert run.peak_mib < 1024
