"""Vendor credentials from Secrets Manager: fetched on first use, cached with a TTL (Powertools
Parameters), typed as `SecretStr` so that a stray log line or repr never shows a value."""

from __future__ import annotations

from typing import TypeVar

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from gateway.aws import creating_client
from gateway.errors import ConfigurationError
from gateway.observability import logger
from gateway.settings import get_settings


class _Secret(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TreasureDataSecret(_Secret):
    write_key: SecretStr
    api_key: SecretStr | None = None
    wp13n_token: SecretStr | None = None


class RoktSecret(_Secret):
    public_id: SecretStr
    secret: SecretStr
    tag_id: SecretStr


class RichRelevanceSecret(_Secret):
    client_id: SecretStr
    client_secret: SecretStr


S = TypeVar("S", bound=_Secret)

# The last good value of each secret: when Secrets Manager has a bad minute after the TTL ran
# out, a stale credential beats failing every call.
_last_good: dict[str, _Secret] = {}
_provider: parameters.SecretsProvider | None = None


def _secrets_provider() -> parameters.SecretsProvider:
    # Short timeouts and few retries: an outage must fall back to the cached value well within
    # the function's deadline (botocore's defaults retry for over 10 s).
    global _provider
    if _provider is None:
        config = Config(
            connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}
        )
        with creating_client():
            client = boto3.client("secretsmanager", config=config)
        _provider = parameters.SecretsProvider(boto3_client=client)
    return _provider


def load(secret_id: str | None, model: type[S], *, setting: str) -> S:
    if not secret_id:
        raise ConfigurationError(f"{setting} is not configured", code="SECRET_NOT_CONFIGURED")
    try:
        raw = _secrets_provider().get(
            secret_id, transform="json", max_age=get_settings().secrets_max_age_seconds
        )
    except parameters.exceptions.TransformParameterError:
        raise ConfigurationError(f"{setting} is not a JSON object", code="SECRET_INVALID") from None
    except Exception as exc:  # GetParameterError and botocore failures alike
        stale = _last_good.get(secret_id)
        if stale is not None:
            logger.warning(
                "Secrets Manager unavailable; using the cached secret",
                extra={"setting": setting, "error_type": type(exc).__name__},
            )
            return stale  # type: ignore[return-value]
        raise ConfigurationError(
            f"{setting} could not be read from Secrets Manager", code="SECRET_UNAVAILABLE"
        ) from exc
    try:
        value = model.model_validate(raw)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise ConfigurationError(
            f"{setting} lacks or mistypes the fields: {', '.join(fields)}", code="SECRET_INVALID"
        ) from None
    _last_good[secret_id] = value
    return value


def treasure_data() -> TreasureDataSecret:
    return load(get_settings().td_secret_id, TreasureDataSecret, setting="TD_SECRET_ID")


def rokt() -> RoktSecret:
    return load(get_settings().rokt_secret_id, RoktSecret, setting="ROKT_SECRET_ID")


def rich_relevance() -> RichRelevanceSecret:
    return load(get_settings().rr_secret_id, RichRelevanceSecret, setting="RR_SECRET_ID")


def clear_cache() -> None:
    global _provider
    _provider = None
    _last_good.clear()
