"""A person in a real browser: the Swagger UI logs in with the OAuth 2.0 password flow and tries an
operation. Debian's chromium and chromedriver (scripts/system-packages.d/browser.txt), headless."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as visible
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import IN_CI
from tests.server import running_server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "correct horse battery staple"
WAIT_S = 20


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        message = "chromium and chromedriver are not installed (scripts/install-system-packages)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # WHY: the flags a root, screenless, offline machine needs; without the background
    # networking ones Chromium keeps dialling hosts this machine cannot reach.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,2000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.save_screenshot(str(tmp_path / "swagger-ui.png"))
        driver.quit()


def shown(driver: WebDriver, css: str, by: str = By.CSS_SELECTOR) -> WebElement:
    element: WebElement = WebDriverWait(driver, WAIT_S).until(
        visible.element_to_be_clickable((by, css))
    )
    return element


def button(driver: WebDriver, label: str) -> WebElement:
    return shown(driver, f"//div[@class='modal-ux']//button[normalize-space()='{label}']", By.XPATH)


def test_a_user_authorizes_in_the_swagger_ui_and_creates_a_project(
    browser: WebDriver, tmp_path: Path, clean_postgres: str, clean_redis: str
) -> None:
    env = {"ENVIRONMENT": "development", "DATABASE_URL": clean_postgres, "REDIS_URL": clean_redis}
    with running_server(env, tmp_path / "server.log", workers=1) as server:
        email = f"ui-{uuid.uuid4().hex[:8]}@example.com"
        registered = httpx.post(
            f"{server.api}/auth/register", json={"email": email, "password": PASSWORD}, timeout=10
        )
        assert registered.status_code == 201, registered.text

        browser.get(f"{server.api}/ui/")
        shown(browser, "button.authorize").click()
        shown(browser, "#oauth_username").send_keys(email)
        shown(browser, "#oauth_password").send_keys(PASSWORD)
        button(browser, "Authorize").click()
        # Logged in, the dialog offers to log out instead.
        button(browser, "Logout")
        button(browser, "Close").click()

        shown(browser, "#operations-projects-createProject .opblock-summary").click()
        shown(browser, "#operations-projects-createProject .try-out__btn").click()
        body = shown(browser, "#operations-projects-createProject textarea.body-param__text")
        body.clear()
        body.send_keys('{"name": "Made in the browser"}')
        shown(browser, "#operations-projects-createProject .execute").click()
        cells = "#operations-projects-createProject .live-responses-table td.response-col_status"

        def answered(driver: WebDriver) -> str | None:
            texts = [cell.text.strip() for cell in driver.find_elements(By.CSS_SELECTOR, cells)]
            return next((text for text in texts if text[:3].isdigit()), None)

        status = WebDriverWait(browser, WAIT_S).until(answered)
        assert status.startswith("201"), status

    made = [line for line in server.log().splitlines() if '"status": 201' in line]
    assert any('"path": "/api/v1/projects"' in line for line in made)
