"""A real browser: headless Chromium (Debian's chromium + chromium-driver, via Selenium) against uvicorn.

The clerk opens the unit's link, uploads through the page's own file box and
reads the verdict; the bureau logs in and sees the counts change. Screenshots
of the pages are kept in the test's tmp dir and copied to /tmp/xlperf-web-shots/.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

from helpers.webseason import LiveServer
from xlperf.season import weblink

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = Path("/tmp/xlperf-web-shots")
PASSWORD = "县局登录2025"


@pytest.fixture
def browser_ready():
    if CHROMIUM and CHROMEDRIVER:
        return
    if os.environ.get("CI"):
        pytest.fail("chromium/chromedriver missing in CI; scripts/test.sh should have installed them")
    pytest.skip("chromium and chromium-driver not installed; scripts/test.sh installs them")


@contextlib.contextmanager
def chromium(profile: Path, width: int = 1280, height: int = 1400):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", f"--window-size={width},{height}", "--lang=zh-CN"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver, tmp_path: Path, name: str) -> Path:
    """Screenshot the whole page (the window grows to the page's height), keep it in two places."""
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, 600)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(600, min(int(height) + 140, 5000)))
    out = tmp_path / name
    driver.save_screenshot(str(out))
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(out, SHOTS / name)
    print(f"screenshot: {out}  (copy: {SHOTS / name})")
    return out


def overall_counts(driver) -> list[int]:
    from selenium.webdriver.common.by import By
    cells = driver.find_element(By.ID, "overall").find_elements(By.TAG_NAME, "td")
    return [int(c.text) for c in cells[3:8]]          # 应报 已报 合格 有错误 未报


@pytest.mark.slow
@pytest.mark.browser
def test_a_clerk_goes_from_link_to_verdict_in_chromium_and_the_bureau_sees_it(season, app_for, tmp_path, browser_ready):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    conn = season.conn()
    weblink.set_password(conn, PASSWORD)
    conn.close()
    unit = season.units()[2]
    row = season.rows(unit)[0]
    wrong = season.filled(row["id"], "绩效自评表-初稿.xlsx", mistakes=("score-above-weight", "no-reason"))
    fixed = season.filled(row["id"], "绩效自评表-修改后.xlsx")

    with LiveServer(app_for(season)) as server, chromium(tmp_path / "profile") as driver:
        driver.get(f"{server.url}/admin/login")                     # the bureau first: counts before
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "overall"))
        assert overall_counts(driver) == [8, 0, 0, 0, 8]

        link = f"{server.url}/u/{season.token(unit)}"             # the clerk opens the link from the mail
        driver.get(link)
        assert row["unit_name"] in driver.find_element(By.TAG_NAME, "h1").text

        def upload(path: Path) -> str:
            driver.get(link)
            driver.find_element(By.NAME, "file").send_keys(str(path))
            driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
            return WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "verdict"))[0].text

        verdict = upload(wrong)
        assert "个错误，请改正后重新上传" in verdict
        table = driver.find_element(By.TAG_NAME, "table").text
        assert re.search(r"[A-Z]+\d+", table) and "超过分值" in table
        assert driver.find_elements(By.PARTIAL_LINK_TEXT, "下载反馈表")
        shot(driver, tmp_path, "1-verdict-with-errors.png")

        verdict = upload(fixed)
        assert "已接收，校验合格" in verdict
        shot(driver, tmp_path, "2-verdict-accepted.png")

        driver.get(f"{server.url}/admin")                          # the bureau's page has changed
        assert overall_counts(driver) == [8, 1, 1, 0, 7]
        assert "绩效自评表-修改后.xlsx" in driver.page_source
        shot(driver, tmp_path, "3-bureau-status.png")
        driver.find_element(By.LINK_TEXT, row["unit_name"]).click()           # the unit's versions and changes
        assert "第 2 版" in driver.page_source and "已改正" in driver.page_source
        shot(driver, tmp_path, "5-bureau-unit-detail.png")

    with LiveServer(app_for(season)) as server, chromium(tmp_path / "phone", 390, 844) as phone:
        phone.get(f"{server.url}/u/{season.token(unit)}")           # the same page on a phone-sized screen
        assert phone.find_elements(By.NAME, "file")
        shot(phone, tmp_path, "4-unit-page-phone.png")
        phone.set_window_size(1280, 900)
        shot(phone, tmp_path, "6-unit-page-desktop.png")
