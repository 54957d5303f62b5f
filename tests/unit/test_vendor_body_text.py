"""A vendor answer's body as text: its declared charset, else UTF-8, never a guess."""

from __future__ import annotations

import pytest
import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from gateway.core.outcome import VendorResponse


def answer(content: bytes, content_type: str) -> requests.Response:
    # Built as requests' adapter builds one: the encoding comes from the headers.
    response = requests.Response()
    response.status_code = 200
    response.headers = CaseInsensitiveDict({"Content-Type": content_type})
    response.encoding = get_encoding_from_headers(response.headers)
    response._content = content
    return response


@pytest.mark.parametrize(
    ("content", "content_type", "text"),
    [
        # requests' guess read this as CP949 (Korean) for a media type it does not know.
        ('{"offer":"ÄÖÜ"}'.encode(), "application/vnd.treasuredata.v1+json", '{"offer":"ÄÖÜ"}'),
        ('{"t":"日本"}'.encode(), "application/json", '{"t":"日本"}'),
        ('{"t":"café"}'.encode("latin-1"), "application/json; charset=ISO-8859-1", '{"t":"café"}'),
        ('{"t":"café"}'.encode(), "application/json; charset=no-such-codec", '{"t":"café"}'),
        (b'{"t":"\xff"}', "application/json", '{"t":"\ufffd"}'),  # not UTF-8: replaced, no 500
    ],
)
def test_the_body_is_read_in_its_declared_charset_else_utf8(
    content: bytes, content_type: str, text: str
) -> None:
    assert VendorResponse.of(answer(content, content_type)).body == text
