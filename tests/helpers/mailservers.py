"""Real mail servers on 127.0.0.1 for the mail tests.

* `smtp_server`: aiosmtpd, accepting AUTH PLAIN/LOGIN (user SMTP_USER /
  SMTP_PASSWORD) without TLS, keeping every message it receives.
* `smtp_starttls_server`: the same, but it refuses mail until STARTTLS.
* `imap_server`: a real Dovecot, started once per session with a throwaway
  config (`dovecot_config`), and a fresh mailbox user for every test.
  `deliver` APPENDs a message unseen; `mailbox_flags` reads the flags back.

tests/conftest.py registers this module as a plugin, so every test can ask
for these fixtures by name.

Dovecot and openssl (a dependency of dovecot-core) are skipped locally when
missing, but fail in CI, where scripts/test.sh installs them.
"""
from __future__ import annotations

import email
import email.policy
import grp
import imaplib
import itertools
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

DOVECOT = "/usr/sbin/dovecot"
SMTP_USER = "jxb@example.gov.cn"
SMTP_PASSWORD = "Smtp-Secret-7391"
USER_POOL = 200  # IMAP test users created with the Dovecot config


def _need(path_or_name: str, what: str) -> str:
    found = path_or_name if os.path.isabs(path_or_name) and os.access(path_or_name, os.X_OK) else shutil.which(path_or_name)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{what} ({path_or_name}) is missing in CI; scripts/test.sh should have installed it")
    pytest.skip(f"{what} not installed; scripts/test.sh installs it")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


# ------------------------------------------------------------------ TLS


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # self-signed for IP 127.0.0.1; also the CA file clients trust
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TlsFiles:
    openssl = _need("openssl", "openssl")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
        check=True, capture_output=True,
    )
    key.chmod(0o644)  # read by Dovecot's config process
    return TlsFiles(cert, key)


# ------------------------------------------------------------------ SMTP


@dataclass
class SmtpServer:
    port: int
    envelopes: list = field(default_factory=list)  # aiosmtpd Envelope objects, raw bytes in .content
    logins: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        if ok:
            self.logins.append(SMTP_USER)
        return AuthResult(success=ok, handled=False)


def _run_smtp(**smtp_params):
    server = SmtpServer(port=free_port())
    controller = Controller(
        server, hostname="127.0.0.1", port=server.port,
        authenticator=server.authenticate, auth_require_tls=False, **smtp_params,
    )
    controller.start()
    return server, controller


@pytest.fixture
def smtp_server():
    server, controller = _run_smtp()
    yield server
    controller.stop()


@pytest.fixture
def smtp_starttls_server(tls_files):
    server, controller = _run_smtp(tls_context=tls_files.server_context(), require_starttls=True)
    yield server
    controller.stop()


# ------------------------------------------------------------------ IMAP (Dovecot)


def dovecot_config(base: Path, *, port: int, ssl_port: int, tls: TlsFiles | None) -> str:
    """The whole config: nothing from /etc/dovecot is read.

    As root, Dovecot refuses to run its login processes as root and refuses
    uid 0 for mail, so it runs them as the Debian package's users (`dovecot`
    for internal services and mail, `dovenull` for logins); as any other user
    everything runs as that user. Chroots are off so the same config works for
    both. `base` must be traversable by those users (not pytest's 0700 tmp).
    """
    if os.geteuid() == 0:
        internal, login = "dovecot", "dovenull"
        mail = pwd.getpwnam("dovecot")
    else:
        mail = pwd.getpwuid(os.geteuid())
        internal = login = mail.pw_name
    ssl_lines = (
        f"ssl = yes\nssl_cert = <{tls.cert}\nssl_key = <{tls.key}\n" if tls else "ssl = no\n"
    )
    return f"""\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_lines}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
first_valid_uid = {mail.pw_uid}
first_valid_gid = {mail.pw_gid}
mail_location = maildir:{base}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={base}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port if tls else 0}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


@dataclass
class Dovecot:
    base: Path
    port: int
    ssl_port: int | None  # None when openssl is missing (then ssl = no)
    cafile: str
    process: subprocess.Popen
    host: str = "127.0.0.1"
    _users: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def log_path(self) -> Path:
        return self.base / "dovecot.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def add_user(self) -> tuple[str, str]:
        """The next unused user of the pool written at startup (an empty mailbox).
        Dovecot rereads a changed passwd-file at most once a second, so users
        added while it runs may not exist yet."""
        n = next(self._users)
        assert n <= USER_POOL, f"more than {USER_POOL} IMAP tests: raise USER_POOL in tests/mailservers.py"
        return _user(n)


def _user(n: int) -> tuple[str, str]:
    return f"county{n}", f"imap-county{n}-pw"


@pytest.fixture(scope="session")
def dovecot(request):
    binary = _need(DOVECOT, "Dovecot")
    try:
        tls = request.getfixturevalue("tls_files")
    except pytest.skip.Exception:
        tls = None
    base = Path(tempfile.mkdtemp(prefix="xlperf-dovecot-"))
    base.chmod(0o755)
    for sub in ("mail", "home"):
        (base / sub).mkdir()
        if os.geteuid() == 0:
            mail = pwd.getpwnam("dovecot")
            os.chown(base / sub, mail.pw_uid, mail.pw_gid)
    (base / "users").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in map(_user, range(1, USER_POOL + 1))))
    port, ssl_port = free_port(), free_port()
    conf = base / "dovecot.conf"
    conf.write_text(dovecot_config(base, port=port, ssl_port=ssl_port, tls=tls))
    with open(base / "dovecot.out", "wb") as out:
        proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    server = Dovecot(base, port, ssl_port if tls else None, str(tls.cert) if tls else "", proc)
    try:
        if not _wait_for_port(port, proc):
            out = (base / "dovecot.out").read_text(errors="replace")
            pytest.fail(f"Dovecot did not start.\n--- config ---\n{conf.read_text()}\n--- output ---\n{out}\n--- log ---\n{server.log()}")
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # only our own master; it stops its children
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(base, ignore_errors=True)


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    ssl_port: int | None
    cafile: str
    user: str
    password: str


@pytest.fixture
def imap_server(dovecot):
    """A fresh, empty mailbox on the session's Dovecot. Dovecot's log lines
    from this test are printed at teardown, so pytest shows them on failure."""
    user, password = dovecot.add_user()
    start = dovecot.log_path.stat().st_size if dovecot.log_path.exists() else 0
    yield ImapAccount(dovecot.host, dovecot.port, dovecot.ssl_port, dovecot.cafile, user, password)
    if dovecot.log_path.exists():
        with open(dovecot.log_path, "rb") as fh:
            fh.seek(start)
            print("--- dovecot log ---\n" + fh.read().decode(errors="replace"))


def _login(account: ImapAccount) -> imaplib.IMAP4:
    conn = imaplib.IMAP4(account.host, account.port, timeout=10)
    conn.login(account.user, account.password)
    return conn


def deliver(account: ImapAccount, msg_bytes: bytes, folder: str = "INBOX") -> None:
    """APPEND a message, unseen. `folder` is sent as is (modified UTF-7, quoted if needed)."""
    conn = _login(account)
    try:
        typ, data = conn.append(folder, None, None, msg_bytes)
        assert typ == "OK", data
    finally:
        conn.logout()


def create_folder(account: ImapAccount, folder: str) -> None:
    conn = _login(account)
    try:
        typ, data = conn.create(folder)
        assert typ == "OK", data
    finally:
        conn.logout()


def mailbox_flags(account: ImapAccount, folder: str = "INBOX") -> dict[int, set[str]]:
    """UID → flags, read without changing anything (EXAMINE)."""
    conn = _login(account)
    try:
        typ, data = conn.select(folder, readonly=True)
        assert typ == "OK", data
        if int(data[0]) == 0:
            return {}
        typ, data = conn.fetch("1:*", "(UID FLAGS)")
        assert typ == "OK", data
        flags = {}
        for line in data:
            parsed = imaplib.ParseFlags(line)
            uid = int(line.split(b"UID ")[1].split()[0].rstrip(b")"))
            flags[uid] = {f.decode() for f in parsed} - {"\\Recent"}
        return flags
    finally:
        conn.logout()
