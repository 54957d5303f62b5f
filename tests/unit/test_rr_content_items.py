"""The Content Update API's item rules (vendor document), checked without any call."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.core.errors import UnprocessableRequest
from gateway.vendors.richrelevance.content_items import validate_items


def errors_of(method: str, items: Any) -> list[tuple[str, int | None]]:
    with pytest.raises(UnprocessableRequest) as caught:
        validate_items(method, items)  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_CONTENT_ITEMS"
    return [(e["pointer"], e.get("index")) for e in caught.value.errors]


def test_the_documents_put_example_passes_with_its_numeric_string_rating() -> None:
    items = [
        {
            "id": "123",
            "name": "Fall Fashion",
            "tags": ["fall", "fashion", "sale"],
            "rating": "4.0",
            "start_date": "2016-08-28",
            "end_date": "2016-11-28",
            "image_url": ["http://my.cdn.com/path/to/my/image/123.jpg"],
            "size": ["100"],
        }
    ]

    [sent] = validate_items("PUT", items)

    assert sent["rating"] == 4.0
    assert sent["size"] == ["100"]
    assert "name" in sent


def test_patch_sends_only_what_the_caller_set() -> None:
    assert validate_items("PATCH", [{"id": "124", "rating": 3.4}]) == [{"id": "124", "rating": 3.4}]


def test_id_limits() -> None:
    assert validate_items("PATCH", [{"id": "x" * 100}])
    assert errors_of("PATCH", [{"id": "x" * 101}]) == [("/0/id", 0)]
    assert errors_of("PATCH", [{"id": ""}]) == [("/0/id", 0)]
    assert errors_of("PATCH", [{"id": "a/b"}]) == [("/0/id", 0)]
    assert errors_of("PATCH", [{"id": 123}]) == [("/0/id", 0)]


def test_name_limit_counts_characters() -> None:
    assert validate_items("PATCH", [{"id": "1", "name": "名" * 255}])
    assert errors_of("PATCH", [{"id": "1", "name": "名" * 256}]) == [("/0/name", 0)]


def test_tags_are_trimmed_not_refused() -> None:
    [sent] = validate_items("PATCH", [{"id": "1", "tags": ["t" * 101, "short"]}])
    assert sent["tags"] == ["t" * 100, "short"]


@pytest.mark.parametrize("rating", ["four", True, None, [4], "nan", "inf"])
def test_rating_must_be_a_finite_number(rating: Any) -> None:
    assert errors_of("PATCH", [{"id": "1", "rating": rating}]) == [("/0/rating", 0)]


@pytest.mark.parametrize(
    "value", ["2016-8-28", "20160828", "2016-02-30", "2016-08-28T00:00", 20160828]
)
def test_dates_are_yyyy_mm_dd(value: Any) -> None:
    assert errors_of("PATCH", [{"id": "1", "start_date": value}]) == [("/0/start_date", 0)]


def test_put_needs_an_attribute_patch_does_not() -> None:
    assert errors_of("PUT", [{"id": "1", "name": "n"}]) == [("/0", 0)]
    assert validate_items("PATCH", [{"id": "1", "name": "n"}])


def test_attributes_are_arrays_of_strings() -> None:
    assert errors_of("PUT", [{"id": "1", "image_url": "u"}]) == [("/0/image_url", 0)]
    assert errors_of("PUT", [{"id": "1", "image_url": [1]}]) == [("/0/image_url/0", 0)]


def test_every_item_error_carries_its_index() -> None:
    items = [{"id": "ok", "x": ["1"]}, {"x": ["1"]}, {"id": "a/b", "x": ["1"]}, 7]

    assert errors_of("PUT", items) == [("/1/id", 1), ("/2/id", 2), ("/3", 3)]


@pytest.mark.parametrize("items", [[], {"id": "1"}])
def test_an_empty_or_non_array_body_is_refused(items: Any) -> None:
    assert errors_of("PATCH", items) == [("", None)]
