"""The DLQ tool (python -m gateway_ops) against moto: summary, show, export and redrive read and
move real SQS messages; a selective redrive interrupted part-way and run again moves every
selected message exactly once and leaves the others where they were."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from gateway_ops import durations
from gateway_ops.__main__ import main
from gateway_ops.dead_letters import MALFORMED, SQS_REDRIVE_REASON, DeadLetter, read_all
from gateway_ops.journal import Journal
from gateway_ops.redrive import Mover, Selection
from gateway_ops.target import Target, stack

SECRET_IN_REQUEST = "do-not-print-this-body"


@dataclass
class Queues:
    target: Target
    sqs: Any
    state_file: Path

    def park(self, kind: str, reason: str | None, *, age: timedelta = timedelta(minutes=5)) -> str:
        """A retry envelope parked by a function (with a reason) or by SQS (none)."""
        envelope = {
            "v": 1,
            "id": str(uuid.uuid4()),
            "kind": kind,
            "request": {"record": {"email": SECRET_IN_REQUEST}},
            "attempt": 3,
            "firstFailedAt": (datetime.now(UTC) - age).isoformat(),
            "lastError": {"status": 503, "detail": "vendor unavailable"},
        }
        attributes = {"reason": {"DataType": "String", "StringValue": reason}} if reason else {}
        self.sqs.send_message(
            QueueUrl=self.target.dlq_url,
            MessageBody=json.dumps(envelope),
            MessageAttributes=attributes,
        )
        return envelope["id"]

    def drain(self, url: str) -> list[dict[str, Any]]:
        """Every message of a queue, consumed (the test's own read, not the tool's)."""
        out: dict[str, dict[str, Any]] = {}
        while batch := self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", []):
            for m in batch:
                out[m["MessageId"]] = m
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return list(out.values())

    def envelope_ids(self, url: str) -> list[str]:
        return [json.loads(m["Body"])["id"] for m in self.drain(url)]


@pytest.fixture
def queues(moto_url: str, tmp_path: Path) -> Iterator[Queues]:
    session = boto3.session.Session(region_name="us-east-1")
    sqs = session.client("sqs", endpoint_url=moto_url)
    name = f"ops-{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    retry = sqs.create_queue(QueueName=f"{name}-retry")["QueueUrl"]
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {"aws_endpoint": moto_url, "queues": {"RetryQueue": retry, "DeadLetterQueue": dlq}}
        )
    )
    yield Queues(Target("test", retry, dlq, session, moto_url), sqs, state)
    for url in (dlq, retry):
        sqs.delete_queue(QueueUrl=url)


def cli(queues: Queues, *args: str) -> int:
    return main(["--state", str(queues.state_file), *args])


def test_summary_counts_by_kind_reason_and_age_without_bodies(
    queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    queues.park("td.postback", "TD rejected the write key (403)")
    queues.park("td.postback", None)
    queues.park("rr.opt_out", None, age=timedelta(days=2))

    assert cli(queues, "dlq", "summary", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["messages"] == 3
    assert data["by_kind"] == {"td.postback": 2, "rr.opt_out": 1}
    assert data["by_reason"] == {SQS_REDRIVE_REASON: 2, "TD rejected the write key (403)": 1}
    assert data["by_age"] == {"< 1h": 2, "1h-24h": 0, "1d-7d": 1, "> 7d": 0}
    assert data["oldest"]["kind"] == "rr.opt_out"

    assert cli(queues, "dlq", "summary") == 0
    text = capsys.readouterr().out
    assert "maxReceiveCount exceeded" in text
    assert SECRET_IN_REQUEST not in text
    # Nothing was consumed: the three are all still there.
    assert len(queues.drain(queues.target.dlq_url)) == 3


def test_show_finds_by_envelope_or_message_id_and_export_keeps_everything(
    queues: Queues, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wanted = queues.park("rr.content", "RR said 400: invalid item")
    queues.park("td.postback", None)

    assert cli(queues, "dlq", "show", wanted) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["envelope"]["id"] == wanted
    assert shown["reason"] == "RR said 400: invalid item"
    assert cli(queues, "dlq", "show", shown["messageId"]) == 0
    assert json.loads(capsys.readouterr().out)["envelopeId"] == wanted
    assert cli(queues, "dlq", "show", "no-such-id") == 1

    out = tmp_path / "dlq.jsonl"
    assert cli(queues, "dlq", "export", str(out)) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["kind"] for r in records} == {"rr.content", "td.postback"}
    assert all("SentTimestamp" in r["attributes"] for r in records)
    assert out.stat().st_mode & 0o077 == 0, "the export holds request bodies: owner only"
    assert len(queues.drain(queues.target.dlq_url)) == 2


def test_redrive_everything_falls_back_from_the_move_task_moto_lacks(
    queues: Queues, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    parked = {queues.park("td.postback", None), queues.park("rr.opt_out", "gone")}
    journal = tmp_path / "j.jsonl"
    assert cli(queues, "dlq", "redrive", "--journal", str(journal), "--no-progress") == 0
    out = capsys.readouterr().out
    assert "SQS message move task unavailable here (StartMessageMoveTask answered 500)" in out
    assert "moved 2 to RetryQueue (message by message)" in out
    moved = queues.drain(queues.target.retry_url)
    assert {json.loads(m["Body"])["id"] for m in moved} == parked
    assert all("reason" not in m.get("MessageAttributes", {}) for m in moved)
    assert queues.drain(queues.target.dlq_url) == []


def test_dry_run_moves_nothing(
    queues: Queues, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    queues.park("td.postback", None)
    queues.park("rr.opt_out", None)
    only = ("--kind", "rr.opt_out", "--dry-run", "--no-progress")
    assert cli(queues, "dlq", "redrive", *only, "--journal", str(tmp_path / "j.jsonl")) == 0
    assert "would move 1 to RetryQueue" in capsys.readouterr().out
    assert queues.drain(queues.target.retry_url) == []
    assert len(queues.drain(queues.target.dlq_url)) == 2


def selected_and_others(queues: Queues) -> tuple[set[str], set[str]]:
    """Old td.postback messages parked for exhausted retries are selected; the rest are not."""
    selected, others = set(), set()
    for n in range(7):
        selected.add(
            queues.park(
                "td.postback", "retries exhausted after 5 attempts", age=timedelta(hours=3 + n)
            )
        )
    others.add(queues.park("td.postback", "retries exhausted after 5 attempts"))  # too young
    others.add(queues.park("rr.content", "retries exhausted", age=timedelta(hours=5)))  # kind
    others.add(queues.park("td.postback", None, age=timedelta(hours=5)))  # reason
    return selected, others


SELECTION = Selection(kind="td.postback", reason="RETRIES EXHAUSTED", older_than=2 * 3600)


class Interrupted(Exception):
    pass


def test_interrupted_selective_redrive_resumes_moving_each_message_exactly_once(
    queues: Queues, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    selected, others = selected_and_others(queues)
    journal_path = tmp_path / "journal.jsonl"

    # The first run dies after RetryQueue accepted the 4th copy, before its original is deleted:
    # the worst moment, with a copy on each queue.
    real_delete = Mover.delete
    deletes = Counter[str]()

    def dying_delete(self: Mover, letter: DeadLetter) -> None:
        deletes["n"] += 1
        if deletes["n"] == 4:
            raise Interrupted
        real_delete(self, letter)

    monkeypatch.setattr(Mover, "delete", dying_delete)
    journal = Journal(journal_path)
    with pytest.raises(Interrupted):
        Mover(queues.target, journal, progress=False).run(SELECTION)
    journal.close()
    monkeypatch.setattr(Mover, "delete", real_delete)

    # Resumed with the same journal: the 4th original goes without a second copy.
    journal = Journal(journal_path)
    outcome = Mover(queues.target, journal, progress=False).run(SELECTION)
    journal.close()
    assert outcome.finished == 1
    assert outcome.moved == len(selected) - 4
    assert outcome.uncertain == []

    moved = queues.envelope_ids(queues.target.retry_url)
    assert sorted(moved) == sorted(selected), "every selected message exactly once"
    assert set(queues.envelope_ids(queues.target.dlq_url)) == others


def test_a_copy_that_may_not_exist_is_neither_dropped_nor_sent_twice_unasked(
    queues: Queues, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    selected, others = selected_and_others(queues)
    journal_path = tmp_path / "journal.jsonl"

    # The run dies inside the 3rd send (a network error: SQS may or may not have the copy).
    real_send = Mover.send
    sends = Counter[str]()

    def dying_send(self: Mover, letter: DeadLetter) -> str:
        sends["n"] += 1
        if sends["n"] == 3:
            raise Interrupted
        return real_send(self, letter)

    monkeypatch.setattr(Mover, "send", dying_send)
    with pytest.raises(Interrupted):
        Mover(queues.target, Journal(journal_path), progress=False).run(SELECTION)
    monkeypatch.setattr(Mover, "send", real_send)

    resumed = Mover(queues.target, Journal(journal_path), progress=False).run(SELECTION)
    assert len(resumed.uncertain) == 1
    assert resumed.moved == len(selected) - 3
    # Left on the DLQ, for the operator.
    assert len(read_all(queues.sqs, queues.target.dlq_url)) == len(others) + 1

    told = Mover(queues.target, Journal(journal_path), progress=False, resend_uncertain=True)
    assert told.run(SELECTION).moved == 1
    assert sorted(queues.envelope_ids(queues.target.retry_url)) == sorted(selected)
    assert set(queues.envelope_ids(queues.target.dlq_url)) == others


def test_retry_status_counts_waiting_and_in_flight(
    queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(3):
        queues.sqs.send_message(QueueUrl=queues.target.retry_url, MessageBody=f"m{n}")
    queues.sqs.receive_message(QueueUrl=queues.target.retry_url, VisibilityTimeout=300)
    assert cli(queues, "retry", "status", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["RetryQueue"]["visible"] == 2
    assert data["RetryQueue"]["in_flight"] == 1
    # moto publishes no SQS metrics to CloudWatch: the age is unknown, and said so.
    assert data["RetryQueue"]["oldest_age_seconds"] is None
    assert cli(queues, "retry", "status") == 0
    assert "n/a" in capsys.readouterr().out


def test_a_deployed_stack_is_found_through_cloudformation(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    name = f"ops-stack-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "RetryQueue": {"Type": "AWS::SQS::Queue"},
            "DeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        },
        "Outputs": {"RetryQueueUrl": {"Value": {"Ref": "RetryQueue"}}},
    }
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    found = stack(name)
    names = {url.rsplit("/", 1)[1] for url in boto3.client("sqs").list_queues()["QueueUrls"]}
    assert found.retry_url.rsplit("/", 1)[1] in names
    assert found.dlq_url.rsplit("/", 1)[1] in names
    assert "-RetryQueue-" in found.retry_url  # from the output
    assert "-DeadLetterQueue-" in found.dlq_url  # from the resources
    # The tool works on what it found.
    boto3.client("sqs").send_message(QueueUrl=found.dlq_url, MessageBody="{}")
    assert [m.kind for m in read_all(found.sqs(), found.dlq_url)] == [MALFORMED]
    cfn.delete_stack(StackName=name)


def test_no_local_runtime_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state", str(tmp_path / "missing.json"), "dlq", "summary"]) == 2
    assert "make run" in capsys.readouterr().err


def test_durations_read_and_print_as_the_docs_say() -> None:
    assert durations.parse("90s") == 90
    assert durations.parse("1d12h") == 36 * 3600
    assert durations.parse("2h") == 7200
    assert durations.render(3 * 86400 + 5 * 3600) == "3d5h"
    assert durations.render(41) == "41s"
    for bad in ("", "2 hours", "h", "-5m", "5m3"):
        with pytest.raises(ValueError, match="not a duration"):
            durations.parse(bad)


def test_a_bad_older_than_is_refused_before_any_move(queues: Queues) -> None:
    queues.park("td.postback", None, age=timedelta(days=1))
    with pytest.raises(SystemExit) as refused:
        cli(queues, "dlq", "redrive", "--older-than", "yesterday")
    assert refused.value.code == 2
    assert queues.drain(queues.target.retry_url) == []
