"""Content items of the RichRelevance Content Update API, checked by the vendor document's rules
before any call: the vendor answers a bad item with a bare 400 (or a 500 for bad JSON) that does
not say which item was wrong, so every problem is reported here with the item's index."""

from __future__ import annotations

import contextlib
import math
import re
from datetime import date
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from gateway.core.validation import validated

Method = Literal["PUT", "PATCH"]
MAX_ID_CHARS = 100
MAX_NAME_CHARS = 255
MAX_TAG_CHARS = 100  # the vendor ignores everything after the 100th character of a tag
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Documented properties; every other property is an attribute (an array of strings).
PROPERTIES = frozenset({"id", "name", "tags", "rating", "start_date", "end_date"})


class ContentItem(BaseModel):
    """A PATCH item: `id` and only the properties to change (names are case-sensitive)."""

    # Built on first use: a function serving one method does not build the other's validators.
    model_config = ConfigDict(extra="allow", defer_build=True)
    # Attributes ({property_name}): arrays of strings such as image_url or click_thru.
    __pydantic_extra__: dict[str, list[StrictStr]] = Field(init=False)

    id: StrictStr = Field(min_length=1, max_length=MAX_ID_CHARS)
    name: StrictStr | None = Field(default=None, max_length=MAX_NAME_CHARS)
    tags: list[StrictStr] | None = None
    rating: StrictInt | StrictFloat | None = None
    start_date: StrictStr | None = None
    end_date: StrictStr | None = None

    @field_validator("name", "tags", "rating", "start_date", "end_date", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # The document gives no meaning to null; leaving the property out is how to keep it.
        if value is None:
            raise ValueError("must not be null; leave the property out instead")
        return value

    @field_validator("id")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("must not contain '/'")
        return value

    @field_validator("tags")
    @classmethod
    def _trim_tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [tag[:MAX_TAG_CHARS] for tag in value]

    @field_validator("rating", mode="before")
    @classmethod
    def _numeric_rating(cls, value: object) -> object:
        # The document's PUT example sends "4.0": a numeric string is taken as its number.
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("start_date", "end_date")
    @classmethod
    def _date_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            if not DATE.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date yyyy-mm-dd") from None
        return value

    def attributes(self) -> dict[str, list[str]]:
        return dict(self.__pydantic_extra__ or {})

    def to_vendor(self) -> dict[str, Any]:
        """The item as sent: only what the caller set (PATCH leaves the rest untouched)."""
        return self.model_dump(exclude_unset=True)


class PutContentItem(ContentItem):
    """A PUT item replaces the stored one and needs at least one attribute to be kept."""

    @model_validator(mode="after")
    def _has_attribute(self) -> PutContentItem:
        if not self.attributes():
            raise ValueError(
                "a PUT item needs at least one attribute (an array of strings, e.g. image_url)"
            )
        return self


@cache
def _adapter(method: Method) -> TypeAdapter[list[Any]]:
    if method == "PUT":
        return TypeAdapter(Annotated[list[PutContentItem], Field(min_length=1)])
    return TypeAdapter(Annotated[list[ContentItem], Field(min_length=1)])


def validate_items(method: Method, items: Any) -> list[dict[str, Any]]:
    """The items ready to send, or `UnprocessableRequest` listing every item's problems."""
    parsed = validated(
        _adapter(method),
        items,
        code="INVALID_CONTENT_ITEMS",
        what="content items do not follow the Content Update API's rules",
    )
    return [item.to_vendor() for item in parsed]
