from __future__ import annotations

import pytest

from gateway.core.errors import is_retryable_status


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 505, 507, 599])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 204, 400, 401, 403, 404, 409, 413, 422, 501])
def test_permanent_statuses(status: int) -> None:
    assert not is_retryable_status(status)
