"""A workspace: one folder per evaluation year holding config, ledger and files.

Why a folder: the province office must be able to copy, back up or hand over
a whole campaign. Everything xlperf knows lives under the root:

    xlperf.yaml    settings, sheet password and signing secret (mode 0600)
    xlperf.sqlite  the ledger (db.py)
    store/         every received file by SHA-256 (store.py)
    outbox/        generated workbooks waiting to be sent
    sent/          copies of what was sent
    inbox/         drop folder for returns that arrive by USB or chat
    feedback/      per-county problem lists
    reports/       province-wide summaries

The config is YAML with Chinese comments so a clerk can edit mail settings in
Notepad; the password and secret are generated, never typed.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from . import db
from ..errors import WorkspaceError

CONFIG_NAME = "xlperf.yaml"
DB_NAME = "xlperf.sqlite"
FOLDERS = ("store", "outbox", "sent", "inbox", "feedback", "reports")

MAIL_DEFAULTS: dict[str, object] = {
    "smtp_host": "127.0.0.1",
    "smtp_port": 25,
    "smtp_security": "none",
    "smtp_user": "",
    "smtp_password": "",
    "sender": "",
    "imap_host": "127.0.0.1",
    "imap_port": 143,
    "imap_security": "none",
    "imap_user": "",
    "imap_password": "",
    "imap_folder": "INBOX",
    "rate_per_minute": 30,
    "contact_name": "",
    "contact_phone": "",
}

_MAIL_COMMENTS = {
    "smtp_host": "发信服务器（SMTP）地址",
    "smtp_port": "发信服务器端口：不加密一般为 25，starttls 一般为 587，ssl 一般为 465",
    "smtp_security": "发信加密方式：none（不加密）/ starttls / ssl",
    "smtp_user": "发信登录账号；留空表示服务器无需登录",
    "smtp_password": "发信登录密码（或授权码）。可写在这里，也可不写而改设环境变量 XLPERF_SMTP_PASSWORD（两者都有时以环境变量为准）",
    "sender": "发件人地址（必填才能发信），例如 ybj@example.gov.cn 或 \"绩效办 <jxb@example.gov.cn>\"",
    "imap_host": "收信服务器（IMAP）地址",
    "imap_port": "收信服务器端口：不加密一般为 143，ssl 一般为 993",
    "imap_security": "收信加密方式：none / starttls / ssl",
    "imap_user": "收信登录账号",
    "imap_password": "收信登录密码（或授权码）。可写在这里，也可改设环境变量 XLPERF_IMAP_PASSWORD（两者都有时以环境变量为准）",
    "imap_folder": "从哪个邮箱文件夹收取回传表格",
    "rate_per_minute": "每分钟最多发送的邮件数，避免被邮件服务器当作垃圾邮件拦截",
    "contact_name": "邮件正文中的联系人姓名，例如 张三（留空则不写联系人）",
    "contact_phone": "邮件正文中的联系电话，例如 0731-88888888",
}


WEB_DEFAULTS: dict[str, object] = {"base_url": "", "grace_days": 0, "max_upload_mb": 10}

_WEB_COMMENTS = {
    "base_url": "网页提交地址（xlperf serve），例如 http://192.168.1.10:8000；填写后生成的表格说明和通知邮件中会附上各单位的提交链接，留空则不附",
    "grace_days": "截止日期后仍接受网页提交的宽限天数（0 表示截止日当天24时后不再接受）",
    "max_upload_mb": "网页上传文件的大小上限（MB）",
}


@dataclass
class Workspace:
    root: Path
    config: dict = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def sent_dir(self) -> Path:
        return self.root / "sent"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def feedback_dir(self) -> Path:
        return self.root / "feedback"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def year(self) -> int:
        return int(self.config["year"])

    @property
    def form(self) -> str:
        return str(self.config["form"])

    @property
    def password(self) -> str:
        return str(self.config["password"])

    @property
    def secret(self) -> bytes:
        return bytes.fromhex(self.config["secret"])

    @property
    def title(self) -> str:
        return str(self.config.get("title") or "")

    @property
    def deadline(self) -> str:
        return str(self.config.get("deadline") or "")

    @property
    def web(self) -> dict:
        return {**WEB_DEFAULTS, **(self.config.get("web") or {})}

    @property
    def mail(self) -> dict:
        return {**MAIL_DEFAULTS, **(self.config.get("mail") or {})}

    def connect(self):
        """A migrated connection to this workspace's ledger."""
        return db.connect(self.db_path)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.config.items() if k not in ("password", "secret")}
        shown.update({k: "***" for k in ("password", "secret") if k in self.config})
        if isinstance(shown.get("mail"), dict):
            shown["mail"] = {k: ("***" if "password" in k and v else v) for k, v in shown["mail"].items()}
        return f"Workspace(root={str(self.root)!r}, config={shown!r})"

    __str__ = __repr__


def _scalar(value: object) -> str:
    """A YAML scalar: JSON strings and numbers are valid YAML and always quoted safely."""
    return json.dumps(value, ensure_ascii=False)


def render_config(config: dict) -> str:
    """The config file text, with a Chinese comment on each key."""
    mail = {**MAIL_DEFAULTS, **(config.get("mail") or {})}
    lines = [
        "# xlperf 工作区配置。此文件含工作表保护密码和签名密钥，请勿外传。",
        "",
        "# 自评年度（预算年度）",
        f"year: {_scalar(config['year'])}",
        "# 表样名称（templates 目录下的 yaml 文件名，不含扩展名）",
        f"form: {_scalar(config['form'])}",
        "# 表格标题；留空则使用表样自带的标题",
        f"title: {_scalar(config.get('title', ''))}",
        "# 报送截止日期（YYYY-MM-DD），写入表格说明和催报邮件；留空表示不写",
        f"deadline: {_scalar(config.get('deadline', ''))}",
        "# 工作表保护密码：防止填报单位误改公式和锁定单元格（不是加密）。自动生成，一般无需修改",
        f"password: {_scalar(config['password'])}",
        "# 签名密钥（十六进制）：写入每份下发表格的签名，回收时据此识别单位和项目。",
        "# 切勿修改或删除，否则已下发的表格将无法自动识别",
        f"secret: {_scalar(config['secret'])}",
        "",
        "# 邮件设置",
        "mail:",
    ]
    for key, value in mail.items():
        comment = _MAIL_COMMENTS.get(key)
        if comment:
            lines.append(f"  # {comment}")
        lines.append(f"  {key}: {_scalar(value)}")
    lines += ["", "# 网页提交（xlperf serve）", "web:"]
    for key, value in {**WEB_DEFAULTS, **(config.get("web") or {})}.items():
        if key in _WEB_COMMENTS:
            lines.append(f"  # {_WEB_COMMENTS[key]}")
        lines.append(f"  {key}: {_scalar(value)}")
    for key, value in config.items():  # keys added by hand or by later versions survive a rewrite
        if key not in ("year", "form", "title", "deadline", "password", "secret", "mail", "web"):
            lines.append(f"{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def _check_deadline(deadline: str) -> str:
    deadline = (deadline or "").strip()
    if deadline:
        try:
            date.fromisoformat(deadline)
        except ValueError:
            raise WorkspaceError(f"截止日期“{deadline}”格式不正确，应为 YYYY-MM-DD，例如 2025-03-31",
                                 code="deadline-invalid") from None
    return deadline


def init_workspace(root: Path, *, year: int, form: str = "project-county", password: str | None = None,
                   title: str = "", deadline: str = "") -> Workspace:
    """Create a new workspace in `root` (which may already exist, without a config)."""
    root = Path(root)
    if (root / CONFIG_NAME).exists():
        raise WorkspaceError(f"该目录已是工作区（已有 {CONFIG_NAME}），不会覆盖", code="workspace-exists",
                             path=str(root))
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise WorkspaceError(f"年度“{year}”不正确，应为四位年份，例如 2024", code="workspace-invalid")
    config = {
        "year": year,
        "form": form,
        "title": title or "",
        "deadline": _check_deadline(deadline),
        "password": password if password else secrets.token_urlsafe(9),
        "secret": secrets.token_hex(32),
        "mail": dict(MAIL_DEFAULTS),
        "web": dict(WEB_DEFAULTS),
    }
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_NAME
    try:
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # lost a race with another init
        raise WorkspaceError(f"该目录已是工作区（已有 {CONFIG_NAME}），不会覆盖", code="workspace-exists",
                             path=str(root)) from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render_config(config))
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(config_path, 0o600)  # O_CREAT's mode is filtered by umask; be explicit
    ws = Workspace(root=root, config=config)
    _make_folders(ws)
    db.connect(ws.db_path).close()
    return ws


def _make_folders(ws: Workspace) -> None:
    for name in FOLDERS:
        (ws.root / name).mkdir(parents=True, exist_ok=True)


def open_workspace(root: Path) -> Workspace:
    """Load an existing workspace; recreate any missing working folder."""
    root = Path(root)
    path = root / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise WorkspaceError(f"未找到工作区配置 {CONFIG_NAME}，请先运行 xlperf init",
                             code="workspace-missing", path=str(root)) from None
    except UnicodeDecodeError:
        raise WorkspaceError(f"{CONFIG_NAME} 不是 UTF-8 编码，请用记事本另存为 UTF-8",
                             code="workspace-invalid", path=str(path)) from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark is not None else ""
        raise WorkspaceError(f"{CONFIG_NAME} {where}格式错误，无法读取：{getattr(exc, 'problem', '') or exc}",
                             code="workspace-invalid", path=str(path)) from None
    config = _validate_config(config, path)
    ws = Workspace(root=root, config=config)
    _make_folders(ws)
    return ws


def _validate_config(config: object, path: Path) -> dict:
    def bad(message: str) -> WorkspaceError:
        return WorkspaceError(f"{CONFIG_NAME} 中{message}", code="workspace-invalid", path=str(path))

    if not isinstance(config, dict):
        raise bad("没有任何设置项")
    for key in ("year", "form", "password", "secret"):
        if config.get(key) in (None, ""):
            raise bad(f"缺少 {key}")
    year = config["year"]
    if isinstance(year, str) and year.strip().isdigit():
        year = int(year.strip())
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise bad(f" year “{config['year']}”不是有效年份")
    config["year"] = year
    secret = str(config["secret"])
    try:
        if len(bytes.fromhex(secret)) < 16:
            raise ValueError
    except ValueError:
        raise bad(" secret 不是有效的密钥（应为至少 32 位十六进制字符），请恢复原值") from None
    config["secret"] = secret
    config["password"] = str(config["password"])
    config["form"] = str(config["form"])
    mail = config.get("mail") or {}
    if not isinstance(mail, dict):
        raise bad(" mail 应为一组设置项")
    config["mail"] = {**MAIL_DEFAULTS, **mail}
    deadline = config.get("deadline")
    config["deadline"] = deadline.isoformat() if isinstance(deadline, date) else str(deadline or "")
    config["title"] = str(config.get("title") or "")
    web = config.get("web") or {}
    if not isinstance(web, dict):
        raise bad(" web 应为一组设置项")
    config["web"] = {**WEB_DEFAULTS, **web}
    return config


def save_config(ws: Workspace) -> None:
    """Rewrite xlperf.yaml from `ws.config` (atomically, mode 0600)."""
    tmp = ws.config_path.with_name(ws.config_path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render_config(ws.config))
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    tmp.replace(ws.config_path)
