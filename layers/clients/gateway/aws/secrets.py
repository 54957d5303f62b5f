"""Vendor credentials from Secrets Manager: fetched on first use, cached with a TTL (Powertools
Parameters), typed as `SecretStr` so that a stray log line or repr never shows a value."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from aws_lambda_powertools.utilities import parameters
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from gateway.core.errors import ConfigurationError
from gateway.core.observability import logger

if TYPE_CHECKING:
    from gateway.context import Context


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


class SecretStore:
    """The context's secrets: Powertools' provider (TTL cache) over one Secrets Manager client,
    and the last good value of each secret: when Secrets Manager has a bad minute after the TTL
    ran out, a stale credential beats failing every call."""

    def __init__(self, context: Context) -> None:
        self._context = context
        # Each secret's last good value, with the raw value it was validated from: Powertools'
        # cache hands back the same object until its TTL runs out, which is not validated again.
        self._last_good: dict[tuple[str, type[_Secret]], tuple[object, _Secret]] = {}

    @cached_property
    def _provider(self) -> parameters.SecretsProvider:
        # Short timeouts and few retries: an outage must fall back to the cached value well
        # within the function's deadline (botocore's defaults retry for over 10 s).
        config = Config(
            connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}
        )
        client = self._context.client("secretsmanager", name="secrets", config=config)
        return parameters.SecretsProvider(boto3_client=client)

    def load(
        self, secret_id: str | None, model: type[S], *, setting: str, fresh: bool = False
    ) -> S:
        """The secret, from the TTL cache unless `fresh` (read again after a vendor refused it:
        a rotated key must not wait out the TTL)."""
        if not secret_id:
            raise ConfigurationError(f"{setting} is not configured", code="SECRET_NOT_CONFIGURED")
        try:
            raw = self._provider.get(
                secret_id,
                transform="json",
                max_age=self._context.settings.secrets_max_age_seconds,
                force_fetch=fresh,
            )
        except parameters.exceptions.TransformParameterError:
            raise ConfigurationError(
                f"{setting} is not a JSON object", code="SECRET_INVALID"
            ) from None
        except Exception as exc:  # GetParameterError and botocore failures alike
            stale = self._last_good.get((secret_id, model))
            if stale is not None:
                logger.warning(
                    "Secrets Manager unavailable; using the cached secret",
                    extra={"setting": setting, "error_type": type(exc).__name__},
                )
                return stale[1]  # type: ignore[return-value]
            raise ConfigurationError(
                f"{setting} could not be read from Secrets Manager", code="SECRET_UNAVAILABLE"
            ) from exc
        last = self._last_good.get((secret_id, model))
        if last is not None and last[0] is raw:
            return last[1]  # type: ignore[return-value]
        try:
            value = model.model_validate(raw)
        except ValidationError as exc:
            fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
            raise ConfigurationError(
                f"{setting} lacks or mistypes the fields: {', '.join(fields)}",
                code="SECRET_INVALID",
            ) from None
        self._last_good[(secret_id, model)] = (raw, value)
        return value

    def treasure_data(self, *, fresh: bool = False) -> TreasureDataSecret:
        return self.load(
            self._context.settings.td_secret_id,
            TreasureDataSecret,
            setting="TD_SECRET_ID",
            fresh=fresh,
        )

    def rokt(self) -> RoktSecret:
        return self.load(
            self._context.settings.rokt_secret_id, RoktSecret, setting="ROKT_SECRET_ID"
        )

    def rich_relevance(self, *, fresh: bool = False) -> RichRelevanceSecret:
        return self.load(
            self._context.settings.rr_secret_id,
            RichRelevanceSecret,
            setting="RR_SECRET_ID",
            fresh=fresh,
        )
