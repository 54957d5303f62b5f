"""The guard knows the sandboxes' credentials and the bearer tokens they issue."""

from __future__ import annotations

from tests.secret_guard import leaks


def test_sandbox_credentials_and_issued_tokens_are_secrets() -> None:
    token = "rrsbx_" + "0123456789abcdef" * 2

    assert leaks([f"Authorization: Bearer {token}"]) == [token]
    assert leaks(["client_secret=sandbox-rr-client-secret"]) == ["sandbox-rr-client-secret"]
    assert leaks(["trackingId c0ffee, user rrsbx_short"]) == []
