"""RetryFunction: replays retry envelopes from RetryQueue (SQS, ReportBatchItemFailures)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway import replay
from gateway.observability import instrumented

# Report every failed item, even when the whole batch failed, instead of raising:
# the batchItemFailures list is what the event source mapping acts on.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    replay.handle_message(
        record.body,
        receive_count=int(record.attributes.approximate_receive_count),
        receipt_handle=record.receipt_handle,
    )


@instrumented(correlation_id_path=None)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
