"""At most one delivery per key, with Powertools Idempotency over the IdempotencyTable (DynamoDB):
- per retry envelope id: SQS delivers at least once, so a redelivered envelope that was already
  delivered gets its saved answer instead of a second vendor call;
- per `Idempotency-Key` header: a client repeating a write gets the first answer back.
A record is saved only when the delivery returns; an error deletes it, so a retry can go again."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from gateway import invocation
from gateway.aws import creating_client
from gateway.errors import IdempotencyKeyInUse, IdempotencyKeyReused, IdempotencyUnavailable
from gateway.observability import logger
from gateway.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

Result = dict[str, Any]


class InProgress(Exception):
    """The same key is being delivered right now (by another invocation)."""


@cache
def _store(scope: str) -> BasePersistenceLayer | None:
    # One store per scope: Powertools binds a store to the first config and key prefix it sees.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    table = get_settings().idempotency_table
    if not table:
        return None
    config = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2})
    with creating_client():
        client = boto3.client("dynamodb", config=config)
    if scope in GROUP_COMMITTED_SCOPES:
        return _group_committed_store(table, client)
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client)


# The retry function's envelopes: a batch's items finish together, so their "delivered" records
# are written together (one BatchWriteItem instead of an UpdateItem each).
GROUP_COMMITTED_SCOPES = frozenset({"envelope"})


def _group_committed_store(table: str, client: Any) -> BasePersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from gateway.group_commit import GroupCommit

    class GroupCommittedStore(DynamoDBPersistenceLayer):
        """Powertools' DynamoDB store whose success records (the one write after delivery) go
        through a group commit: a whole-item put of what Powertools' own update sets. The
        claim (a conditional put) and the release on failure stay Powertools' own calls."""

        writer = GroupCommit(client, table)

        def _update_record(self, data_record: DataRecord) -> None:
            item = {
                **self._get_key(data_record.idempotency_key),
                self.expiry_attr: {"N": str(data_record.expiry_timestamp)},
                self.data_attr: {"S": data_record.response_data},
                self.status_attr: {"S": data_record.status},
            }
            if self.payload_validation_enabled:
                item[self.validation_key_attr] = {"S": data_record.payload_hash}
            self.writer.put(item)

    return GroupCommittedStore(table_name=table, boto3_client=client)


def enabled() -> bool:
    return bool(get_settings().idempotency_table)


def once(scope: str, key: str, payload: Any, deliver: Callable[[], Result]) -> tuple[Result, bool]:
    """`deliver()` unless `scope`/`key` was delivered before; returns (result, replayed).
    Raises `InProgress`, `IdempotencyKeyReused` (same key, other payload) or
    `IdempotencyUnavailable` (the table could not be read or written)."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    store = _store(scope)
    if store is None:
        return deliver(), False
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
        lambda_context=invocation.current(),
    )
    outcome: list[Result] = []  # what deliver() returned, if it ran and returned
    failure: list[Exception] = []  # what deliver() raised, if it ran and failed

    @idempotent_function(
        data_keyword_argument="data", persistence_store=store, config=config, key_prefix=scope
    )
    def run(data: dict[str, Any]) -> Result:
        try:
            outcome.append(deliver())
        except Exception as exc:
            failure.append(exc)
            raise
        return outcome[-1]

    try:
        result: Result = run(data={"key": key, "payload": payload})
    except IdempotencyAlreadyInProgressError:
        raise InProgress(key) from None
    except IdempotencyValidationError:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with a different request; use a new key"
        ) from None
    except IdempotencyPersistenceLayerError as exc:
        logger.error("idempotency store failed", extra={"error_type": type(exc).__name__})
        if outcome:  # delivered, only the record could not be saved: the answer stands
            return outcome[-1], False
        if failure:  # deliver() failed, then removing the in-progress record failed too
            raise failure[-1] from None
        raise IdempotencyUnavailable(
            "could not check the Idempotency-Key; retry the request later"
        ) from exc
    return result, not outcome


def once_per_key(
    scope: str, key: str, payload: Any, deliver: Callable[[], Result]
) -> tuple[Result, bool]:
    """`once` for a caller's `Idempotency-Key`: the same key in progress elsewhere is a 409."""
    try:
        return once(f"key:{scope}", key, payload, deliver)
    except InProgress:
        raise IdempotencyKeyInUse(
            "a request with this Idempotency-Key is still in progress; retry it shortly",
            headers={"Retry-After": "1"},
        ) from None
