"""`xlperf serve`: run the upload page with uvicorn until Ctrl-C."""
from __future__ import annotations

from ..season import db, weblink
from ..season.workspace import Workspace
from .app import WebOptions, create_app


def shown_address(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    return f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"


def serve(ws: Workspace, host: str = "127.0.0.1", port: int = 8000, say=print,
          options: WebOptions | None = None) -> None:
    """Serve until interrupted; prints where to open the page."""
    import uvicorn
    conn = ws.connect()
    try:
        has_password = weblink.password_hash(conn) is not None
        units = len({r["unit_code"] for r in db.roster_rows(conn)})
    finally:
        conn.close()
    app = create_app(ws, options)
    address = shown_address(host, port)
    say(f"xlperf 网页提交已启动：{address}/")
    say(f"  局端登录：{address}/admin" + ("" if has_password else "（尚未设置密码：先运行 xlperf serve --set-password）"))
    say(f"  {units} 个单位的专用链接：xlperf link（表格说明和通知邮件中的链接使用 xlperf.yaml 的 web.base_url）")
    if host in ("0.0.0.0", "::"):
        say("  已向办公网络开放：其他电脑请用本机的局域网地址访问。")
    say("  按 Ctrl-C 停止。")
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            server_header=False, date_header=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    say("已停止。")
