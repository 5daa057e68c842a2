"""The workspace folder: what `xlperf init` creates and what `open_workspace` accepts."""
from __future__ import annotations

import os
import stat

import pytest
import yaml

from xlperf.season import db
from xlperf.errors import WorkspaceError
from xlperf.season.workspace import CONFIG_NAME, MAIL_DEFAULTS, init_workspace, open_workspace


def test_init__creates_config_folders_and_database(tmp_path):
    ws = init_workspace(tmp_path / "2024", year=2024, title="2024年度项目支出绩效目标自评", deadline="2025-03-31")

    for folder in (ws.store_dir, ws.outbox, ws.feedback_dir, ws.reports_dir, ws.sent_dir, ws.inbox):
        assert folder.is_dir()
    assert ws.db_path == ws.root / "xlperf.sqlite" and ws.db_path.is_file()
    conn = db.connect(ws.db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    finally:
        conn.close()
    assert (ws.year, ws.form, ws.deadline) == (2024, "project-county", "2025-03-31")
    assert len(ws.secret) == 32
    assert len(ws.password) >= 12
    assert ws.config["mail"] == MAIL_DEFAULTS


def test_init__config_is_private_commented_yaml_that_reads_back_the_same(tmp_path):
    ws = init_workspace(tmp_path, year=2024, password="-0123: tricky #pw")
    path = tmp_path / CONFIG_NAME

    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert "# 签名密钥" in text and "# 发信服务器" in text
    assert yaml.safe_load(text) == ws.config
    assert open_workspace(tmp_path).password == "-0123: tricky #pw"


def test_init__refuses_an_existing_workspace_and_leaves_it_alone(tmp_path):
    first = init_workspace(tmp_path, year=2024)
    before = (tmp_path / CONFIG_NAME).read_bytes()

    with pytest.raises(WorkspaceError) as err:
        init_workspace(tmp_path, year=2025)

    assert err.value.code == "workspace-exists"
    assert (tmp_path / CONFIG_NAME).read_bytes() == before
    assert open_workspace(tmp_path).secret == first.secret


def test_each_workspace_gets_its_own_password_and_secret(tmp_path):
    a = init_workspace(tmp_path / "a", year=2024)
    b = init_workspace(tmp_path / "b", year=2024)
    assert a.password != b.password
    assert a.secret != b.secret


def test_repr__never_shows_password_or_secret(tmp_path):
    ws = init_workspace(tmp_path, year=2024, password="s3cret-pass")
    shown = repr(ws) + str(ws)
    assert "s3cret-pass" not in shown
    assert ws.config["secret"] not in shown
    assert "2024" in shown


def test_open__missing_config_tells_the_user_to_run_init(tmp_path):
    with pytest.raises(WorkspaceError) as err:
        open_workspace(tmp_path)
    assert err.value.code == "workspace-missing"
    assert "xlperf init" in err.value.message


@pytest.mark.parametrize("text", [
    "year: [2024\n",                       # broken YAML
    "- just\n- a list\n",                  # not a mapping
    "year: 2024\nform: x\npassword: p\n",  # no secret
    "year: 二〇二四\nform: x\npassword: p\nsecret: " + "ab" * 32 + "\n",
    "year: 2024\nform: x\npassword: p\nsecret: not-hex\n",
])
def test_open__bad_config_is_workspace_invalid(tmp_path, text):
    (tmp_path / CONFIG_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(WorkspaceError) as err:
        open_workspace(tmp_path)
    assert err.value.code == "workspace-invalid"
    assert CONFIG_NAME in err.value.message


def test_open__hand_edited_mail_settings_are_kept_and_missing_ones_defaulted(tmp_path):
    init_workspace(tmp_path, year=2024)
    path = tmp_path / CONFIG_NAME
    text = path.read_text(encoding="utf-8").replace('smtp_host: "127.0.0.1"', "smtp_host: smtp.hnybj.gov.cn")
    text = text.replace('  rate_per_minute: 30\n', "")
    path.write_text(text, encoding="utf-8")

    ws = open_workspace(tmp_path)

    assert ws.mail["smtp_host"] == "smtp.hnybj.gov.cn"
    assert ws.mail["rate_per_minute"] == 30


def test_open__a_deleted_working_folder_comes_back(tmp_path):
    ws = init_workspace(tmp_path, year=2024)
    ws.outbox.rmdir()
    assert open_workspace(tmp_path).outbox.is_dir()


def test_init__rejects_a_deadline_that_is_not_a_date(tmp_path):
    with pytest.raises(WorkspaceError) as err:
        init_workspace(tmp_path, year=2024, deadline="3月底")
    assert "YYYY-MM-DD" in err.value.message
    assert not (tmp_path / CONFIG_NAME).exists()
