"""The token cache's expiry rule: `expires_in` less 10%, at most 60 s early; none: until refused."""

from __future__ import annotations

import pytest

from gateway.vendors.richrelevance.oauth import usable_until


@pytest.mark.parametrize(
    ("expires_in", "until"),
    [(3600, 1000 + 3600 - 60), (100, 1000 + 90), (1, 1000 + 0.9), (600.0, 1000 + 540)],
)
def test_expiry_margin(expires_in: float, until: float) -> None:
    assert usable_until(expires_in, 1000) == pytest.approx(until)


@pytest.mark.parametrize("expires_in", [None, 0, -5, "3600", True])
def test_without_a_usable_expires_in_the_token_lives_until_refused(expires_in: object) -> None:
    assert usable_until(expires_in, 1000) is None
