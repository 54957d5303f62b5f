"""What the template's CORS configuration must hold for td-js-sdk in a browser (the tests beside
this one fail in Chromium without it; this one says why)."""

from __future__ import annotations

from devserver.cors import CorsPolicy
from devserver.template import Template


def test_the_templates_cors_lets_td_js_sdk_through() -> None:
    policy = CorsPolicy.from_template(Template())

    # The SDK's fetch calls send credentials ("include"): without this the browser blocks them.
    assert policy.allow_credentials
    assert "*" not in policy.allow_origins
    assert "POST" in policy.allow_methods
    # addRecord/track*: Content-Type (TD's own type) and Authorization (the placeholder key);
    # fetchPersonalization adds WP13n-Token. Accept is CORS-safelisted.
    assert {"content-type", "authorization", "wp13n-token"} <= set(policy.allow_headers)
    assert "http://localhost:3000" in policy.allow_origins
