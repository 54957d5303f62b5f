"""The replay dispatch table names its kinds as strings (so that a function imports only its own
vendor's module): each must be a `Kind`, and resolve to a request model of that very kind."""

from __future__ import annotations

from typing import get_args

from gateway import writes
from gateway.envelope import Kind


def test_every_kind_has_a_delivery_whose_model_is_of_that_kind() -> None:
    assert set(writes._DELIVERIES) == set(get_args(Kind))
    for kind in get_args(Kind):
        delivery = writes._delivery(kind)
        assert delivery.model.kind == kind
        assert callable(delivery.send)
