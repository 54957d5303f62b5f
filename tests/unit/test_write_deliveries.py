"""The replay table is built from the write request classes: every envelope `Kind` has exactly
one class, which names that very kind."""

from __future__ import annotations

from typing import get_args

from gateway.core.envelope import Kind, WriteRequest
from gateway.delivery.policy import request_classes


def test_every_kind_replays_through_the_request_class_of_that_kind() -> None:
    table = request_classes()
    assert set(table) == set(get_args(Kind))
    for kind, model in table.items():
        assert issubclass(model, WriteRequest)
        assert model.kind == kind
        assert model.send is not WriteRequest.send  # it knows how to send itself
