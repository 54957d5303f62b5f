"""RetryFunction: replays retry envelopes from RetryQueue (SQS, ReportBatchItemFailures)."""

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Before anything imports pydantic: else Powertools' batch utility builds every parser model
# (~40 ms of cold start; tests/unit/test_cold_imports.py).
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway.context import Context
from gateway.core.observability import instrumented
from gateway.delivery import policy

# Items of a batch are replayed concurrently, each in a thread of its own, so a batch takes about
# as long as its slowest item. Not asyncio's default executor: with Lambda's 2 vCPUs it has
# 6 threads, and a batch of 10 would take two rounds of vendor calls (the event source's
# BatchSize is 10). Every failed item is reported, even when the whole batch failed, instead of
# raising: batchItemFailures is what the event source mapping acts on.
BATCH_SIZE = 10
context = Context()
executor = ThreadPoolExecutor(max_workers=BATCH_SIZE, thread_name_prefix="replay")
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


async def record_handler(record: SQSRecord) -> None:
    # As asyncio.to_thread does: the thread runs in a copy of this task's context variables.
    variables = contextvars.copy_context()
    await asyncio.get_running_loop().run_in_executor(
        executor,
        lambda: variables.run(
            policy.replay,
            context,
            record.body,
            receive_count=int(record.attributes.approximate_receive_count),
            receipt_handle=record.receipt_handle,
        ),
    )


@instrumented(correlation_id_path=None)
def lambda_handler(
    event: dict[str, Any], lambda_context: LambdaContext
) -> PartialItemFailureResponse:
    bodies = [record.get("body", "") for record in event.get("Records", [])]
    with policy.ordering_read_ahead(context, bodies):
        return async_process_partial_response(
            event=event,
            record_handler=record_handler,
            processor=processor,
            context=context.bind(lambda_context),
        )
