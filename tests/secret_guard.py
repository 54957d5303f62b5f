"""No secret value may reach a log line or a response: the values the suite's secrets hold,
checked against everything the tests capture."""

from __future__ import annotations

from collections.abc import Iterable

from devserver.aws_resources import SANDBOX_SECRETS
from devserver.vendors.richrelevance import ISSUED_TOKEN

# Values vendor sandboxes issue at run time (bearer tokens), recognised by their shape.
ISSUED_SECRET_PATTERNS = [ISSUED_TOKEN]

# Secrets a test plants on purpose (a rotated key the vendor refuses, ...).
EXTRA_SECRET_VALUES: set[str] = {"revoked-key"}


def secret_values() -> set[str]:
    values = {v for secret in SANDBOX_SECRETS.values() for v in secret.values()}
    # A token's distinctive part must not leak either (e.g. "1/8/<token>" -> "<token>").
    values |= {v.rsplit("/", 1)[-1] for v in values if "/" in v}
    return {v for v in values | EXTRA_SECRET_VALUES if len(v) >= 6}


def leaks(texts: Iterable[str]) -> list[str]:
    """The secret values found in any of `texts`."""
    values = secret_values()
    texts = list(texts)
    found = {v for text in texts for v in values if v in text}
    found |= {m for text in texts for p in ISSUED_SECRET_PATTERNS for m in p.findall(text)}
    return sorted(found)


def carries_secret(*inputs: object) -> bool:
    """Whether generated input holds a secret value itself. Hypothesis draws string literals of
    the project's own modules ("local constants"), the sandboxes' credentials among them; a
    request that carries one is echoed by an access log line or a 404's detail, which is the
    caller's own value and not a leak, so the fuzz tests leave such input out (`assume`)."""
    return bool(leaks(repr(value) for value in inputs))
