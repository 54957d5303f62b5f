"""RetryFunction: replays retry envelopes from RetryQueue (SQS, ReportBatchItemFailures)."""

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway import replay
from gateway.observability import instrumented

# Items of a batch are replayed concurrently (each vendor call in its own thread), so a batch
# takes about as long as its slowest item. Every failed item is reported, even when the whole
# batch failed, instead of raising: batchItemFailures is what the event source mapping acts on.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


async def record_handler(record: SQSRecord) -> None:
    await asyncio.to_thread(
        replay.handle_message,
        record.body,
        receive_count=int(record.attributes.approximate_receive_count),
        receipt_handle=record.receipt_handle,
    )


@instrumented(correlation_id_path=None)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
