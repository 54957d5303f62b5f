"""Moving dead letters back to RetryQueue.

Everything, with nothing left over from an interrupted run: SQS's own message move task. A
selection (kind, reason, age), or an endpoint without move tasks (moto): message by message,
send-then-delete, each step in the journal (gateway_ops.journal) before the next, so that a run
that dies part-way is finished by running it again: no message lost, none sent twice."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gateway_ops.dead_letters import DeadLetter, scanning
from gateway_ops.journal import Journal
from gateway_ops.target import Target

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

# Copies say where they came from; the stale reason stays behind (if the copy is parked again,
# it gets its new reason).
REDRIVEN_FROM = "redrivenFrom"
DROPPED_ATTRIBUTES = {"reason", REDRIVEN_FROM}


@dataclass(frozen=True)
class Selection:
    kind: str | None = None
    reason: str | None = None  # a part of the reason, case-insensitive
    older_than: float | None = None  # seconds since the write first failed

    @property
    def everything(self) -> bool:
        return self.kind is None and self.reason is None and self.older_than is None

    def __call__(self, letter: DeadLetter, now: datetime) -> bool:
        if self.kind is not None and letter.kind != self.kind:
            return False
        if self.reason is not None and self.reason.lower() not in letter.reason.lower():
            return False
        return self.older_than is None or letter.age_seconds(now) > self.older_than


@dataclass
class Outcome:
    method: str = "message by message"
    note: str | None = None  # why the move task was not used, when it was wanted
    task_handle: str | None = None
    matched: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, reason) -> n
    moved: int = 0  # sent and deleted by this run
    finished: int = 0  # an earlier run's copy was sent: its original deleted now
    kept: int = 0  # not selected: left on the queue
    uncertain: list[str] = field(default_factory=list)  # left on the queue: see the journal

    @property
    def selected(self) -> int:
        return sum(self.matched.values())


class Mover:
    def __init__(
        self,
        target: Target,
        journal: Journal,
        *,
        visibility: int = 600,
        progress: bool = True,
        resend_uncertain: bool = False,
    ) -> None:
        self.target, self.journal, self.visibility = target, journal, visibility
        self.progress, self.resend_uncertain = progress, resend_uncertain
        self.sqs: SQSClient = target.sqs()

    def run(
        self, selection: Selection, *, dry_run: bool = False, move_task: bool = True
    ) -> Outcome:
        outcome = Outcome()
        if selection.everything and not dry_run and move_task:
            if self.journal.pending():
                outcome.note = "an earlier selective run is unfinished: finishing it first"
            else:
                handle, refused = self._start_move_task()
                if handle:
                    outcome.method, outcome.task_handle = "SQS message move task", handle
                    self._watch_task(outcome)
                    return outcome
                outcome.note = f"SQS message move task unavailable here ({refused})"
        self._move_each(selection, outcome, dry_run=dry_run)
        return outcome

    # --- message by message ---------------------------------------------------------------

    def _move_each(self, selection: Selection, outcome: Outcome, *, dry_run: bool) -> None:
        now = datetime.now(UTC)
        with (
            self._bar("dry run" if dry_run else "moving") as (bar, task),
            scanning(self.sqs, self.target.dlq_url, visibility=self.visibility) as scan,
        ):
            for letter in scan:
                bar.update(task, advance=1)
                last = self.journal.last.get(letter.message_id)
                if last == "sent":
                    if not dry_run:  # its copy is on RetryQueue already
                        self.delete(letter)
                        self.journal.step(letter.message_id, "deleted")
                        scan.consumed(letter)
                    outcome.finished += 1
                elif last == "sending" and not self.resend_uncertain:
                    outcome.uncertain.append(letter.message_id)
                elif not selection(letter, now):
                    outcome.kept += 1
                else:
                    outcome.matched[(letter.kind, letter.reason)] += 1
                    if not dry_run:
                        self._move(letter)
                        scan.consumed(letter)
                        outcome.moved += 1
                bar.update(task, description=self._describe(outcome, dry_run))

    def _move(self, letter: DeadLetter) -> None:
        self.journal.step(letter.message_id, "sending")
        copy = self.send(letter)
        self.journal.step(letter.message_id, "sent", copy=copy)
        self.delete(letter)
        self.journal.step(letter.message_id, "deleted")

    def send(self, letter: DeadLetter) -> str:
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            name: _attribute(value)
            for name, value in letter.message_attributes.items()
            if name not in DROPPED_ATTRIBUTES
        }
        attributes[REDRIVEN_FROM] = {"DataType": "String", "StringValue": letter.message_id}
        sent = self.sqs.send_message(
            QueueUrl=self.target.retry_url, MessageBody=letter.body, MessageAttributes=attributes
        )
        return sent["MessageId"]

    def delete(self, letter: DeadLetter) -> None:
        self.sqs.delete_message(QueueUrl=self.target.dlq_url, ReceiptHandle=letter.receipt_handle)

    @staticmethod
    def _describe(outcome: Outcome, dry_run: bool) -> str:
        verb = "would move" if dry_run else "moved"
        count = outcome.selected if dry_run else outcome.moved + outcome.finished
        return f"{verb} {count}, left {outcome.kept + len(outcome.uncertain)}"

    # --- SQS's message move task ----------------------------------------------------------

    def _start_move_task(self) -> tuple[str | None, str]:
        once = self.target.session.client(
            "sqs", endpoint_url=self.target.endpoint_url, config=Config(retries={"max_attempts": 1})
        )
        try:
            started = once.start_message_move_task(
                SourceArn=self.target.arn(self.target.dlq_url),
                DestinationArn=self.target.arn(self.target.retry_url),
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            message = " ".join(str(error.get("Message", "")).split())
            if "<" in message:  # an HTML error page (moto's 500 for an action it lacks)
                message = ""
            said = f"StartMessageMoveTask answered {error.get('Code', '?')}"
            return None, f"{said}: {message[:120]}" if message else said
        except BotoCoreError as exc:
            return None, type(exc).__name__
        return started["TaskHandle"], ""

    def _watch_task(self, outcome: Outcome, poll_seconds: float = 2.0) -> None:
        source = self.target.arn(self.target.dlq_url)
        with self._bar("SQS move task") as (bar, task):
            while True:
                results = self.sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)
                latest: Any = (results.get("Results") or [{}])[0]
                moved = int(latest.get("ApproximateNumberOfMessagesMoved", 0))
                to_move = int(latest.get("ApproximateNumberOfMessagesToMove", 0))
                bar.update(task, completed=moved, total=max(to_move, moved, 1))
                status = latest.get("Status", "RUNNING")
                if status != "RUNNING":
                    outcome.moved = moved
                    if status != "COMPLETED":
                        outcome.note = f"move task {status}: {latest.get('FailureReason', '')}"
                    return
                time.sleep(poll_seconds)

    # --- progress ---------------------------------------------------------------------------

    def _bar(self, label: str) -> _Bar:
        return _Bar(label, self._depth(), enabled=self.progress)

    def _depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.target.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", "0"))


class _Bar:
    """A rich progress bar on stderr (off when not wanted); `total` is SQS's estimate."""

    def __init__(self, label: str, total: int, *, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self.task = self.progress.add_task(label, total=max(total, 1))

    def __enter__(self) -> tuple[Progress, Any]:
        self.progress.start()
        return self.progress, self.task

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _attribute(value: dict[str, Any]) -> MessageAttributeValueTypeDef:
    """A received message attribute as send_message takes it (the list forms are unused)."""
    out: dict[str, Any] = {"DataType": value["DataType"]}
    for key in ("StringValue", "BinaryValue"):
        if key in value:
            out[key] = value[key]
    return out  # type: ignore[return-value]
