"""The web application behind `xlperf serve`: a page per unit, a status page for the bureau.

Server-rendered HTML (Jinja2, autoescaped), no JavaScript, so it works on an
old office browser and on a phone. Nothing from a request ever becomes a
file-system path: downloads are looked up in the ledger by number, and every
number is checked to belong to the unit whose link was used.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..judge.batch import BoundedChecker
from ..judge.findings import SEVERITY_ZH
from ..season import db, store, weblink
from ..season.status import LEVEL_ZH, compute_status, write_status_workbook
from ..season.workspace import Workspace
from . import guard
from .upload import accept_upload, client_file_name, deadline_state, refuse

HERE = Path(__file__).parent
STATUS_ZH = {"valid": "合格", "errors": "有错误", "unreadable": "无法读取", "unmatched": "未匹配名单"}
OUTCOME_ZH = {"accepted": "已接收", "duplicate": "重复提交", "refused": "未接收"}
SOURCE_ZH = {"folder": "文件夹", "zip": "压缩包", "imap": "邮件", "web": "网页"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class WebOptions:
    limits: guard.Limits = field(default_factory=guard.Limits)
    clock: Callable[[], dt.datetime] = dt.datetime.now      # local time: the deadline is a local date
    workers: int | None = None
    check_timeout: float = 120.0


def local_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _score(v) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["t"] = local_time
    env.filters["score"] = _score
    env.globals.update(STATUS_ZH=STATUS_ZH, OUTCOME_ZH=OUTCOME_ZH, SOURCE_ZH=SOURCE_ZH, SEVERITY_ZH=SEVERITY_ZH,
                       LEVEL_ZH=LEVEL_ZH)
    return env


def _attachment(data: bytes, name: str, media_type: str = XLSX) -> Response:
    ascii_name = "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_" for c in name) or "download.xlsx"
    return Response(data, media_type=media_type, headers={
        "content-disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})


def create_app(ws: Workspace, options: WebOptions | None = None) -> Starlette:
    """The ASGI app for one workspace."""
    opts = options or WebOptions()
    env = _env()
    csrf = guard.Csrf(ws.secret)
    sessions = guard.Sessions()
    limits = opts.limits
    per_token = guard.RateLimiter(limits.uploads_per_token)
    per_address = guard.RateLimiter(limits.posts_per_address)
    logins = guard.RateLimiter(limits.logins_per_address)
    pages = guard.RateLimiter(limits.pages_per_address)
    checker = BoundedChecker(opts.workers, timeout=opts.check_timeout)
    cap = int(float(ws.web.get("max_upload_mb") or 10) * 1024 * 1024)
    report_lock = threading.Lock()

    def address(request: Request) -> str:
        return request.client.host if request.client else ""

    def page(request: Request, template: str, http_status: int = 200, **ctx) -> HTMLResponse:
        cookie = request.cookies.get(guard.CSRF_COOKIE)
        fresh = cookie is None or len(cookie) > 64
        if fresh:
            cookie = csrf.new_cookie()
        scope = ctx.pop("csrf_scope", "")
        html = env.get_template(template).render(title_base=ws.title or f"{ws.year}年度项目支出绩效自评",
                                                 csrf_field=guard.CSRF_FIELD,
                                                 csrf_value=csrf.field_for(cookie, scope), **ctx)
        resp = HTMLResponse(html, status_code=http_status)
        if fresh:
            resp.set_cookie(guard.CSRF_COOKIE, cookie, httponly=True, samesite="strict", path="/")
        return resp

    def message(request: Request, status: int, title: str, text: str) -> HTMLResponse:
        return page(request, "message.html", status, heading=title, text=text)

    def bad_link(request: Request) -> HTMLResponse:
        return message(request, 404, "链接无效", "此链接无效或已作废。请使用主管部门最新发来的链接，或与主管部门联系。")

    def too_many(request: Request) -> HTMLResponse:
        return message(request, 429, "操作过于频繁", "提交次数过多，请稍等一分钟后再试。")

    def with_conn(fn):
        conn = ws.connect()
        try:
            return fn(conn)
        finally:
            conn.close()

    # ------------------------------------------------------------ unit pages

    def claim_of(conn, token: str):
        return weblink.check_token(ws, conn, token)

    def unit_view(conn, unit_code: str) -> dict:
        rows = [r for r in db.roster_rows(conn) if r["unit_code"] == unit_code]
        latest = {r["roster_id"]: r for r in db.latest_returns(conn)}
        projects = []
        for r in rows:
            versions = []
            for ret in db.returns_for(conn, r["id"]):
                sources = sorted({SOURCE_ZH.get(x["source"], x["source"]) for x in db.receipts_for(conn, ret["sha256"])})
                versions.append({"ret": ret, "sources": "、".join(sources)})
            projects.append({"row": r, "current": latest.get(r["id"]), "generated": db.generated_for(conn, r["id"]) is not None,
                             "versions": versions})
        return {"unit": rows[0], "projects": projects, "uploads": db.uploads_for(conn, unit_code, limit=50)}

    async def unit_home(request: Request) -> Response:
        if not pages.allow(address(request)):
            return too_many(request)
        token = request.path_params["token"]

        def load(conn):
            claim = claim_of(conn, token)
            return None if claim is None else unit_view(conn, claim.unit_code)
        view = await run_in_threadpool(with_conn, load)
        if view is None:
            return bad_link(request)
        return page(request, "unit.html", token=token, deadline=deadline_state(ws, opts.clock()), max_mb=cap // (1024 * 1024),
                    year=ws.year, csrf_scope="unit:" + view["unit"]["unit_code"], **view)

    async def unit_upload(request: Request) -> Response:
        token = request.path_params["token"]
        addr = address(request)
        claim = await run_in_threadpool(with_conn, lambda conn: claim_of(conn, token))
        unit_code = claim.unit_code if claim else ""
        if not per_address.allow(addr) or (claim and not per_token.allow(token)):
            await run_in_threadpool(refuse, ws, address=addr, unit_code=unit_code, code="rate-limited",
                                    message="提交过于频繁")
            return too_many(request)
        if claim is None:
            await run_in_threadpool(refuse, ws, address=addr, unit_code="", code="bad-token", message="链接无效或已作废")
            return bad_link(request)
        try:
            body = await guard.read_capped(request, cap + 64 * 1024)
        except guard.BodyTooLarge:
            await run_in_threadpool(refuse, ws, address=addr, unit_code=unit_code, code="upload-too-large",
                                    message=f"文件超过 {cap // (1024 * 1024)} MB 上限")
            return message(request, 413, "文件过大", f"上传的文件超过 {cap // (1024 * 1024)} MB 上限，未予接收。"
                           "自评表一般只有几十 KB，请确认选择的是填好的自评表。")

        try:
            form = await Request(request.scope, _replayer(body)).form(max_files=1, max_fields=10)
        except Exception:  # noqa: BLE001 — a malformed multipart body is the sender's problem, not ours
            await run_in_threadpool(refuse, ws, address=addr, unit_code=unit_code, code="bad-request", message="请求格式错误")
            return message(request, 400, "请求无效", "提交的内容无法识别，请回到本单位页面重新选择文件上传。")
        try:
            if not csrf.valid(request.cookies.get(guard.CSRF_COOKIE), form.get(guard.CSRF_FIELD), "unit:" + unit_code):
                await run_in_threadpool(refuse, ws, address=addr, unit_code=unit_code, code="csrf",
                                        message="缺少或错误的表单校验码")
                return message(request, 403, "请求无效", "页面已过期或请求来源不明，请回到本单位页面刷新后重新上传。")
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                attempt = await run_in_threadpool(refuse, ws, address=addr, unit_code=unit_code, code="file-missing",
                                                  message="没有选择文件")
            else:
                data = await upload.read()
                if len(data) > cap:
                    await run_in_threadpool(refuse, ws, address=addr, unit_code=unit_code, code="upload-too-large",
                                            message=f"文件超过 {cap // (1024 * 1024)} MB 上限")
                    return message(request, 413, "文件过大", f"上传的文件超过 {cap // (1024 * 1024)} MB 上限，未予接收。")
                attempt = await run_in_threadpool(
                    accept_upload, ws, checker, unit_code=unit_code, address=addr,
                    name=client_file_name(upload.filename), data=data, now=opts.clock())
        finally:
            await form.close()
        return RedirectResponse(f"/u/{token}/r/{attempt.upload_id}", status_code=303)

    def verdict_view(conn, unit_code: str, upload_id: int) -> dict | None:
        up = db.upload_row(conn, upload_id)
        if up is None or up["unit_code"] != unit_code:
            return None
        ret = db.return_row(conn, up["return_id"]) if up["return_id"] else None
        project, current = None, None
        findings = []
        if ret is not None:
            if ret["roster_id"] is not None:
                project = db.roster_row(conn, ret["roster_id"])
                if project is None or project["unit_code"] != unit_code:
                    return None
            findings = db.findings_for(conn, ret["id"])
            current = ret["superseded_by"] is None
        return {"up": up, "ret": ret, "project": project, "findings": findings, "current": current,
                "unit": next((r for r in db.roster_rows(conn) if r["unit_code"] == unit_code), None)}

    async def unit_verdict(request: Request) -> Response:
        if not pages.allow(address(request)):
            return too_many(request)
        token = request.path_params["token"]

        def load(conn):
            claim = claim_of(conn, token)
            return None if claim is None else verdict_view(conn, claim.unit_code, request.path_params["upload_id"])
        view = await run_in_threadpool(with_conn, load)
        if view is None:
            return bad_link(request)
        return page(request, "verdict.html", token=token, year=ws.year, **view)

    async def unit_form(request: Request) -> Response:
        if not pages.allow(address(request)):
            return too_many(request)
        token = request.path_params["token"]

        def load(conn):
            claim = claim_of(conn, token)
            row = db.roster_row(conn, request.path_params["roster_id"]) if claim else None
            if row is None or not row["active"] or row["unit_code"] != claim.unit_code:
                return None
            gen = db.generated_for(conn, row["id"])
            return None if gen is None else Path(gen["path"])
        path = await run_in_threadpool(with_conn, load)
        if path is None or not path.is_file():
            return bad_link(request)
        return _attachment(path.read_bytes(), path.name)

    async def unit_feedback(request: Request) -> Response:
        if not pages.allow(address(request)):
            return too_many(request)
        token = request.path_params["token"]

        def build(conn):
            claim = claim_of(conn, token)
            view = verdict_view(conn, claim.unit_code, request.path_params["upload_id"]) if claim else None
            if view is None or view["ret"] is None:
                return None
            return feedback_copy(conn, view["ret"])
        got = await run_in_threadpool(with_conn, build)
        if got is None:
            return bad_link(request)
        return _attachment(*got)

    def feedback_copy(conn, ret) -> tuple[bytes, str] | None:
        """The feedback copy of a stored return (problems marked), built from the ledger's verdict."""
        from ..judge.feedback import write_feedback
        from ..judge.serialize import result_from_json
        summary = json.loads(ret["summary_json"] or "{}")
        if not summary.get("readable", True):
            return None
        result = result_from_json(summary, db.findings_for(conn, ret["id"]))
        name = next((r["original_name"] for r in db.receipts_for(conn, ret["sha256"])), "自评表.xlsx")
        with tempfile.TemporaryDirectory(prefix="xlperf-feedback-") as tmp:
            out = write_feedback(store.path_for(ws.store_dir, ret["sha256"]), result, Path(tmp), "feedback.xlsx")
            return out.read_bytes(), f"{Path(name).stem}_反馈.xlsx"

    # ------------------------------------------------------------ bureau pages

    async def small_form(request: Request):
        """The fields of a small form (login, logout, revoke); None when the body is too big or malformed."""
        try:
            body = await guard.read_capped(request, 16 * 1024)
            return await Request(request.scope, _replayer(body)).form(max_files=0, max_fields=5)
        except Exception:  # noqa: BLE001 — BodyTooLarge, or a body that is no form at all
            return None

    def admin_ok(request: Request) -> bool:
        return sessions.valid(request.cookies.get(guard.SESSION_COOKIE))

    def to_login() -> Response:
        return RedirectResponse("/admin/login", status_code=303)

    async def login_page(request: Request) -> Response:
        has_pw = await run_in_threadpool(with_conn, weblink.password_hash)
        return page(request, "login.html", has_password=has_pw is not None, error="", csrf_scope="login")

    async def login_post(request: Request) -> Response:
        addr = address(request)
        if not logins.allow(addr):
            return too_many(request)
        form = await small_form(request)
        if form is None:
            return message(request, 400, "请求无效", "请回到登录页重新输入。")
        if not csrf.valid(request.cookies.get(guard.CSRF_COOKIE), form.get(guard.CSRF_FIELD), "login"):
            return message(request, 403, "请求无效", "页面已过期，请回到登录页刷新后重新输入。")
        stored = await run_in_threadpool(with_conn, weblink.password_hash)
        password = form.get("password")
        ok = isinstance(password, str) and await run_in_threadpool(weblink.verify_password, stored, password)
        if not ok:
            return page(request, "login.html", 401, has_password=stored is not None, csrf_scope="login",
                        error="密码不正确" if stored else "尚未设置密码")
        resp = RedirectResponse("/admin", status_code=303)
        resp.set_cookie(guard.SESSION_COOKIE, sessions.start(), httponly=True, samesite="strict", path="/")
        return resp

    async def logout(request: Request) -> Response:
        form = await small_form(request)
        if admin_ok(request) and form is not None and csrf.valid(request.cookies.get(guard.CSRF_COOKIE),
                                                                  form.get(guard.CSRF_FIELD), "admin"):
            sessions.end(request.cookies.get(guard.SESSION_COOKIE))
        resp = to_login()
        resp.delete_cookie(guard.SESSION_COOKIE, path="/")
        return resp

    def admin_view(conn) -> dict:
        st = compute_status(conn)
        latest = {r["roster_id"]: r for r in db.latest_returns(conn)}
        units: dict[str, dict] = {}
        for r in db.roster_rows(conn):
            u = units.setdefault(r["unit_code"], {"row": r, "expected": 0, "valid": 0, "errors": 0, "missing": 0})
            u["expected"] += 1
            ret = latest.get(r["id"])
            key = "missing" if ret is None else "valid" if ret["status"] == "valid" else "errors"
            u[key] += 1
        return {"status": st, "units": list(units.values()), "uploads": db.uploads_for(conn, limit=30)}

    async def admin_home(request: Request) -> Response:
        if not admin_ok(request):
            return to_login()
        view = await run_in_threadpool(with_conn, admin_view)
        return page(request, "admin.html", year=ws.year, csrf_scope="admin", **view)

    def admin_unit_view(conn, unit_code: str, base: str = "") -> dict | None:
        rows = [r for r in db.roster_rows(conn, include_inactive=True) if r["unit_code"] == unit_code]
        if not rows:
            return None
        projects = []
        for r in rows:
            versions, before = [], None
            for ret in db.returns_for(conn, r["id"]):
                found = db.findings_for(conn, ret["id"])
                sources = sorted({SOURCE_ZH.get(x["source"], x["source"]) for x in db.receipts_for(conn, ret["sha256"])})
                versions.append({"ret": ret, "findings": found, "sources": "、".join(sources),
                                 "changes": changes(before, ret, found) if before else None})
                before = (ret, found)
            projects.append({"row": r, "versions": versions})
        return {"unit": rows[0], "projects": projects, "uploads": db.uploads_for(conn, unit_code, limit=50),
                "link": weblink.unit_link(ws, conn, unit_code, weblink.base_url(ws) or base)}

    async def admin_unit(request: Request) -> Response:
        if not admin_ok(request):
            return to_login()
        base = str(request.base_url).rstrip("/")
        view = await run_in_threadpool(with_conn, lambda conn: admin_unit_view(conn, request.path_params["unit_code"], base))
        if view is None:
            return message(request, 404, "找不到单位", "名单中没有这个单位。")
        return page(request, "admin_unit.html", year=ws.year, csrf_scope="admin", **view)

    async def admin_revoke(request: Request) -> Response:
        if not admin_ok(request):
            return to_login()
        form = await small_form(request)
        if form is None or not csrf.valid(request.cookies.get(guard.CSRF_COOKIE), form.get(guard.CSRF_FIELD), "admin"):
            return message(request, 403, "请求无效", "页面已过期，请刷新后重试。")
        code = request.path_params["unit_code"]
        ok = await run_in_threadpool(with_conn, lambda conn: admin_unit_view(conn, code) is not None
                                     and weblink.revoke(ws, conn, code) > 0)
        if not ok:
            return message(request, 404, "找不到单位", "名单中没有这个单位。")
        return RedirectResponse(f"/admin/unit/{quote(code)}", status_code=303)

    async def admin_status_export(request: Request) -> Response:
        if not admin_ok(request):
            return to_login()

        def build(conn):
            with tempfile.TemporaryDirectory(prefix="xlperf-status-") as tmp:
                out = write_status_workbook(compute_status(conn), Path(tmp) / "status.xlsx")
                return out.read_bytes()
        return _attachment(await run_in_threadpool(with_conn, build), f"{ws.year}年度回收情况.xlsx")

    async def admin_summary(request: Request) -> Response:
        if not admin_ok(request):
            return to_login()

        def build():
            from ..province.workspace import aggregate_workspace
            out = ws.reports_dir / f"{ws.year}年度自评汇总表.xlsx"
            with report_lock:
                aggregate_workspace(ws, out)
                return out.read_bytes(), out.name
        return _attachment(*await run_in_threadpool(build))

    # ------------------------------------------------------------ misc

    css = (HERE / "static" / "site.css").read_bytes()

    async def stylesheet(request: Request) -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})

    async def home(request: Request) -> Response:
        return page(request, "message.html", heading="项目支出绩效自评 网页提交",
                    text="各单位请使用主管部门发来的专用链接打开本单位的提交页面。主管部门请从“局端登录”进入。",
                    admin_link=True)

    async def not_found(request: Request, exc) -> Response:
        return message(request, 404, "页面不存在", "找不到这个页面。")

    routes = [
        Route("/", home),
        Route("/static/site.css", stylesheet),
        Route("/u/{token}", unit_home),
        Route("/u/{token}/upload", unit_upload, methods=["POST"]),
        Route("/u/{token}/r/{upload_id:int}", unit_verdict),
        Route("/u/{token}/r/{upload_id:int}/feedback", unit_feedback),
        Route("/u/{token}/form/{roster_id:int}", unit_form),
        Route("/admin", admin_home),
        Route("/admin/login", login_page),
        Route("/admin/login", login_post, methods=["POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
        Route("/admin/unit/{unit_code}", admin_unit),
        Route("/admin/unit/{unit_code}/revoke", admin_revoke, methods=["POST"]),
        Route("/admin/status.xlsx", admin_status_export),
        Route("/admin/summary.xlsx", admin_summary),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        threading.Thread(target=checker.warm, daemon=True).start()
        yield
        checker.close()

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found}, lifespan=lifespan)
    app.add_middleware(guard.SecurityHeaders)
    app.state.checker = checker
    return app


def _replayer(body: bytes):
    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}
    return replay


def changes(before: tuple, ret, found: list) -> dict:
    """What changed from the previous version: problems fixed, problems new, the score."""
    prev_ret, prev_found = before
    key = lambda f: (f.code, f.cell, f.message)  # noqa: E731
    was, now = {key(f): f for f in prev_found}, {key(f): f for f in found}
    return {"fixed": [f for k, f in was.items() if k not in now], "new": [f for k, f in now.items() if k not in was],
            "score": (prev_ret["total_score"], ret["total_score"]), "status": (prev_ret["status"], ret["status"])}
