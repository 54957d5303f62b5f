"""The local runtime's web console in headless Chromium: its fault buttons act on the vendor
sandbox, a permanent failure shows up as a dead letter with its reason, and what TD received
shows up live."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import API
from tests.e2e.conftest import Runtime, eventually

WAIT_SECONDS = 60  # the console polls every 2 s; a busy machine gets a generous bound


@pytest.fixture
def console(runtime: Runtime, browser: WebDriver) -> Iterator[WebDriver]:
    browser.get(f"{API}/")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#sandbox-td-postback"))
    yield browser
    runtime.clear_faults("td-postback")  # whatever the test left behind


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], object]) -> object:
    return WebDriverWait(driver, WAIT_SECONDS).until(condition)


def text_of(driver: WebDriver, selector: str) -> str:
    return "\n".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, selector))


def send_through_form(driver: WebDriver, route: str, body: object) -> WebElement:
    """Fill in the route's try-it form and send it; returns its result element."""
    card = driver.find_element(By.CSS_SELECTOR, f'[data-route="{route}"]')
    if card.get_attribute("open") is None:
        card.find_element(By.TAG_NAME, "summary").click()
    textarea = card.find_element(By.TAG_NAME, "textarea")
    textarea.clear()
    textarea.send_keys(json.dumps(body))
    result = card.find_element(By.CSS_SELECTOR, "pre.result")
    driver.execute_script("arguments[0].textContent = ''", result)
    card.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_for(driver, lambda _: result.text[:1].isdigit())
    return result


def test_console_fault_buttons_and_a_dead_letter_with_its_reason(
    runtime: Runtime, console: WebDriver, shot: Callable[[], Path]
) -> None:
    marker = uuid.uuid4().hex
    td = console.find_element(By.CSS_SELECTOR, "#sandbox-td-postback")
    route = "POST /v1/td/{database}/{table}"

    # TD refuses the gateway's key until cleared: a write is parked, not retried.
    td.find_element(By.CSS_SELECTOR, 'button[data-fault="403"]').click()
    wait_for(
        console, lambda _: "fault added" in td.find_element(By.CLASS_NAME, "control-result").text
    )
    refused = send_through_form(console, route, {"events": [{"marker": marker}]})

    assert refused.text.startswith("502"), refused.text
    assert "UPSTREAM_AUTH" in refused.text
    wait_for(console, lambda d: marker in text_of(d, "#dead-letter-list .dead"))
    [dead] = [
        e
        for e in console.find_elements(By.CSS_SELECTOR, "#dead-letter-list .dead")
        if marker in e.text
    ]
    assert dead.get_attribute("data-kind") == "td.postback"
    assert "rejected credentials" in dead.find_element(By.CLASS_NAME, "reason").text
    console.execute_script("arguments[0].scrollIntoView()", dead)
    shot()

    # Cleared from the console: the same write goes through and shows up under td-postback.
    td.find_element(By.CSS_SELECTOR, 'button[data-fault="clear"]').click()
    wait_for(
        console, lambda _: "faults cleared" in td.find_element(By.CLASS_NAME, "control-result").text
    )
    accepted = send_through_form(console, route, {"events": [{"marker": marker}]})

    assert accepted.text.startswith("200"), accepted.text
    wait_for(console, lambda _: marker in td.find_element(By.CSS_SELECTOR, "ul.received").text)
    assert [r for r in runtime.received("td-postback") if marker in str(r["body"])]


def test_console_503_button_queues_and_the_queue_drains(
    runtime: Runtime, console: WebDriver, shot: Callable[[], Path]
) -> None:
    marker = uuid.uuid4().hex
    td = console.find_element(By.CSS_SELECTOR, "#sandbox-td-postback")

    td.find_element(By.CSS_SELECTOR, 'button[data-fault="503x3"]').click()
    wait_for(
        console, lambda _: "fault added" in td.find_element(By.CLASS_NAME, "control-result").text
    )
    queued = send_through_form(console, "POST /v1/postback/{database}/{table}", {"marker": marker})

    assert queued.text.startswith("202"), queued.text
    assert '"status": "queued"' in queued.text
    # The runtime's poller replays it until TD takes it (the fault's 3 answers used up).
    assert eventually(
        lambda: [r for r in runtime.received("td-postback") if marker in str(r["body"])],
        within=90,
    )
    wait_for(console, lambda _: marker in td.find_element(By.CSS_SELECTOR, "ul.received").text)
    rows = text_of(console, "#queue-depths tr")
    assert "RetryQueue" in rows
    assert "DeadLetterQueue" in rows
    shot()
