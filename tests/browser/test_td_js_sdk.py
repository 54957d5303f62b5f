"""TD's own browser SDK (td-js-sdk from npm, unmodified) in headless Chromium, through the local
runtime: CORS with credentials as the browser enforces it, the gateway's key instead of the
page's, the retry queue behind a 202, and the keepalive beacon of a page being left."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.webdriver.chrome.webdriver import WebDriver

from tests.browser.conftest import run_sdk, sample_url
from tests.e2e.conftest import Runtime, eventually
from tests.support.records import untimed

PAGE_KEY = "placeholder-the-gateway-holds-the-key"  # the sample page's writeKey


def records(runtime: Runtime, table: str, marker: str) -> list[dict[str, Any]]:
    """The records TD's sandbox accepted into web_events.`table` that carry `marker`."""
    path = f"/postback/v3/event/web_events/{table}"
    return [
        r["body"]
        for r in runtime.received("td-postback")
        if r["path"] == path and marker in str(r["body"])
    ]


def test_allowed_origin_records_events_and_fetches_a_personalization(
    runtime: Runtime, browser: WebDriver, shot: Callable[[], Path]
) -> None:
    marker = uuid.uuid4().hex
    td_requests = runtime.summary("td-postback")["requests"]
    browser.get(sample_url())

    results = run_sdk(
        browser,
        f"""
        sample.td.set('$global', 'marker', '{marker}');
        return [
          await sample.addRecord('signups', {{button: 'signup'}}),
          await sample.trackPageview('pageviews'),
          await sample.trackEvent('events', {{action: 'click'}}),
          await sample.fetchPersonalization({{event: 'page_view', marker: '{marker}'}}),
        ];""",
    )
    shot()

    assert [r["outcome"] for r in results] == ["success"] * 4, results
    assert [r["detail"]["status"] for r in results[:3]] == ["ok"] * 3
    assert results[3]["detail"]["offers"]["hero_banner"]["attributes"]["headline"]
    [signup] = records(runtime, "signups", marker)
    [pageview] = records(runtime, "pageviews", marker)
    [event] = records(runtime, "events", marker)
    assert signup["button"] == "signup"
    assert event["action"] == "click"
    # What the SDK itself adds to every tracked record, untouched by the gateway.
    assert pageview["td_version"] == event["td_version"] == "4.4.3"
    assert pageview["td_url"].startswith("http://localhost:3000/_local/sdk-sample.html")
    # TD's sandbox refuses any key but the gateway's (403): each call was accepted first time,
    # so none carried the page's writeKey, and no record carries it either.
    assert runtime.summary("td-postback")["requests"] == td_requests + 3
    assert PAGE_KEY not in str([signup, pageview, event])
    [lookup] = [
        r for r in runtime.received("td-p13n") if marker in str(r["body"])
    ]  # accepted only with the gateway's API key and token
    assert lookup["path"] == "/personalization__database/preferences_table"
    assert lookup["body"]["event"] == "page_view"


def test_a_page_on_another_origin_is_blocked_by_the_browser(
    runtime: Runtime, browser: WebDriver, other_origin: str, shot: Callable[[], Path]
) -> None:
    marker = uuid.uuid4().hex
    td_requests = runtime.summary("td-postback")["requests"]
    browser.get(sample_url(other_origin))

    result = run_sdk(browser, f"return await sample.addRecord('signups', {{marker: '{marker}'}});")
    shot()

    assert result["outcome"] == "error"
    blocked = [e["message"] for e in browser.get_log("browser") if "CORS policy" in e["message"]]
    assert blocked, "the browser did not report a CORS block"
    assert other_origin in blocked[0]
    # The preflight failed, so the POST itself was never sent: nothing reached TD.
    assert runtime.summary("td-postback")["requests"] == td_requests
    assert records(runtime, "signups", marker) == []


def test_td_failing_is_a_success_to_the_sdk_and_the_record_arrives_after_the_drain(
    runtime: Runtime, browser: WebDriver, shot: Callable[[], Path]
) -> None:
    marker = uuid.uuid4().hex
    browser.get(sample_url())
    runtime.fault("td-postback", status=503, count=1, path="/postback/v3/event/web_events/orders")

    result = run_sdk(browser, f"return await sample.addRecord('orders', {{marker: '{marker}'}});")
    shot()

    # The gateway answered 202: the SDK's success callback, with the queued receipt.
    assert result["outcome"] == "success", result
    assert result["detail"]["status"] == "queued"
    assert result["detail"]["receipts"][0]["retryId"] == result["detail"]["retryId"]
    arrived = eventually(lambda: records(runtime, "orders", marker), within=90)
    assert untimed(arrived) == [{"marker": marker}]  # addRecord sends no time: stamped


def test_a_page_unload_beacon_arrives(
    runtime: Runtime, browser: WebDriver, shot: Callable[[], Path]
) -> None:
    marker = uuid.uuid4().hex
    browser.get(sample_url(beacon="beacons", page_id=marker))
    run_sdk(browser, "return true;")  # the SDK is configured and the pagehide hook set
    shot()

    # Leaving the page fires pagehide: the SDK sends with fetch keepalive (credentials included),
    # which outlives the page.
    browser.get("about:blank")

    arrived = eventually(lambda: records(runtime, "beacons", marker), within=60)
    assert arrived, "the pagehide beacon never reached TD's sandbox"
    [beacon] = arrived
    assert beacon["beacon"] == "pagehide"
    assert beacon["td_version"] == "4.4.3"  # trackEvent's own fields: the SDK sent it
