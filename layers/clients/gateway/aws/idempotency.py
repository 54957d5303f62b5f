"""At most one delivery per key, with Powertools Idempotency over the IdempotencyTable (DynamoDB):
- per retry envelope id: SQS delivers at least once, so a redelivered envelope that was already
  delivered gets its saved answer instead of a second vendor call;
- per `Idempotency-Key` header: a client repeating a write gets the first answer back.
A record is saved only when the delivery returns; an error deletes it, so a retry can go again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from botocore.config import Config

from gateway.core.envelope import ENVELOPE_SCOPE
from gateway.core.errors import IdempotencyKeyReused, IdempotencyUnavailable
from gateway.core.observability import logger
from gateway.core.outcome import Outcome, outcome_from_dict, outcome_to_dict

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from gateway.context import Context

# The retry function's envelopes: a batch's items finish together, so their "delivered" records
# are written together (one BatchWriteItem instead of an UpdateItem each), the first to finish
# waiting briefly for the others (gateway/aws/group_commit.py).
GROUP_COMMITTED_SCOPES = frozenset({ENVELOPE_SCOPE})


class InProgress(Exception):
    """The same key is being delivered right now (by another invocation)."""


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    # Powertools' response hook: called only when a saved answer is returned.
    return replace(response, replayed=True)


class IdempotencyStores:
    """The context's Powertools persistence layers, one per scope: Powertools binds a store to
    the first config and key prefix it sees."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._stores: dict[str, BasePersistenceLayer] = {}
        # A batch's items ask for a store at once: each store made registers Powertools'
        # User-Agent hook on the client they share, which runs on every call from then on.
        self._making = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._context.settings.idempotency_table)

    def _store(self, scope: str) -> BasePersistenceLayer:
        with self._making:
            if scope not in self._stores:
                from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

                table = self._context.settings.idempotency_table or ""
                config = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2})
                client = self._context.client("dynamodb", name="idempotency", config=config)
                if scope in GROUP_COMMITTED_SCOPES:
                    from gateway.aws.group_commit import GroupCommittedStore

                    store: BasePersistenceLayer = GroupCommittedStore(
                        table_name=table, boto3_client=client
                    )
                else:
                    store = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
                self._stores[scope] = store
            return self._stores[scope]

    def taking_part(self, scope: str) -> AbstractContextManager[None]:
        """Around one item of a batch, from its start, where `scope`'s records are group-committed:
        the batch's first item to finish waits (within the linger) for this one's record."""
        if not self.enabled or scope not in GROUP_COMMITTED_SCOPES:
            return nullcontext()
        from gateway.aws.group_commit import GroupCommittedStore

        return cast(GroupCommittedStore, self._store(scope)).writer.taking_part()

    def once(self, scope: str, key: str, payload: Any, deliver: Callable[[], Outcome]) -> Outcome:
        """`deliver()` unless `scope`/`key` was delivered before, when the saved outcome comes
        back with `replayed` set. Without the table, `deliver()` every time. Raises
        `InProgress`, `IdempotencyKeyReused` (same key, other payload) or
        `IdempotencyUnavailable` (the table could not be read or written)."""
        if not self.enabled:
            return deliver()
        from aws_lambda_powertools.utilities.idempotency import (
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )
        from aws_lambda_powertools.utilities.idempotency.serialization.custom_dict import (
            CustomDictSerializer,
        )

        config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="payload",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=self._context.settings.idempotency_ttl_seconds,
            response_hook=_mark_replayed,
        )
        if self._context.lambda_context is not None:
            # Bounds the in-progress record by the invocation's deadline.
            config.register_lambda_context(self._context.lambda_context)
        delivered: list[Outcome] = []  # what deliver() returned, if it ran and returned
        failed: list[Exception] = []  # what deliver() raised, if it ran and failed

        @idempotent_function(
            data_keyword_argument="data",
            persistence_store=self._store(scope),
            config=config,
            key_prefix=scope,
            output_serializer=CustomDictSerializer(outcome_to_dict, outcome_from_dict),
        )
        def run(data: dict[str, Any]) -> Outcome:
            try:
                delivered.append(deliver())
            except Exception as exc:
                failed.append(exc)
                raise
            return delivered[-1]

        try:
            result: Outcome = run(data={"key": key, "payload": payload})
        except IdempotencyAlreadyInProgressError:
            raise InProgress(key) from None
        except IdempotencyValidationError:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request; use a new key"
            ) from None
        except IdempotencyPersistenceLayerError as exc:
            logger.error("idempotency store failed", extra={"error_type": type(exc).__name__})
            if delivered:  # delivered, only the record could not be saved: the answer stands
                return delivered[-1]
            if failed:  # deliver() failed, then removing the in-progress record failed too
                raise failed[-1] from None
            raise IdempotencyUnavailable(
                "could not check the Idempotency-Key; retry the request later"
            ) from exc
        return result
