"""What `dlq summary` and `retry status` print: counts, reasons and ages, never a request body."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway_ops import durations
from gateway_ops.dead_letters import DeadLetter
from gateway_ops.target import Target

AGE_BUCKETS = (("< 1h", 3600), ("1h-24h", 86400), ("1d-7d", 7 * 86400), ("> 7d", float("inf")))
REASON_WIDTH = 72


def summary(letters: list[DeadLetter], now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    ages: Counter[str] = Counter({name: 0 for name, _ in AGE_BUCKETS})
    for letter in letters:
        age = letter.age_seconds(now)
        ages[next(name for name, limit in AGE_BUCKETS if age < limit)] += 1
    oldest = max(letters, key=lambda m: m.age_seconds(now), default=None)
    return {
        "messages": len(letters),
        "by_kind": dict(Counter(m.kind for m in letters).most_common()),
        "by_reason": dict(Counter(m.reason for m in letters).most_common()),
        "by_age": dict(ages),
        "oldest": None
        if oldest is None
        else {
            "age_seconds": int(oldest.age_seconds(now)),
            "kind": oldest.kind,
            "envelopeId": oldest.envelope_id,
            "messageId": oldest.message_id,
        },
    }


def render_summary(target: Target, data: dict[str, Any]) -> str:
    lines = [f"DeadLetterQueue ({target.name}): {data['messages']} messages"]
    if not data["messages"]:
        return lines[0]
    for title, key, width in (
        ("by kind", "by_kind", 24),
        ("by reason", "by_reason", REASON_WIDTH + 2),
        ("by age (since the write first failed)", "by_age", 10),
    ):
        lines += ["", title]
        lines += [f"  {_cut(str(k), width - 2):<{width}}{n:>5}" for k, n in data[key].items()]
    oldest = data["oldest"]
    lines += [
        "",
        f"oldest: {durations.render(oldest['age_seconds'])} ({oldest['kind']}, "
        f"envelope {oldest['envelopeId'] or '-'}, message {oldest['messageId']})",
    ]
    return "\n".join(lines)


def retry_status(target: Target) -> dict[str, Any]:
    sqs = target.sqs()
    out: dict[str, Any] = {}
    for name, url in (("RetryQueue", target.retry_url), ("DeadLetterQueue", target.dlq_url)):
        attrs = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
                "RedrivePolicy",
            ],
        )["Attributes"]
        out[name] = {
            "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
        }
    out["RetryQueue"]["oldest_age_seconds"] = _oldest_age(target)
    return out


def _oldest_age(target: Target) -> int | None:
    """CloudWatch's ApproximateAgeOfOldestMessage: SQS tells no age through its own API, and
    reading RetryQueue's messages would count as receives toward their maxReceiveCount."""
    name = target.retry_url.rstrip("/").rsplit("/", 1)[-1]
    now = datetime.now(UTC)
    points = target.cloudwatch().get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": name}],
        StartTime=now - timedelta(minutes=15),
        EndTime=now,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    if not points:
        return None
    latest = max(points, key=lambda p: p["Timestamp"])
    return int(latest.get("Maximum", 0))


def render_retry_status(target: Target, data: dict[str, Any]) -> str:
    retry, dlq = data["RetryQueue"], data["DeadLetterQueue"]
    age = retry["oldest_age_seconds"]
    return "\n".join(
        [
            f"RetryQueue ({target.name})",
            f"  waiting          {retry['visible']:>6}",
            f"  in flight        {retry['in_flight']:>6}   (being replayed, or backing off)",
            f"  delayed          {retry['delayed']:>6}",
            "  oldest message   "
            + (
                f"{durations.render(age):>6}"
                if age is not None
                else "   n/a   (no CloudWatch datapoint in the last 15 min: "
                "AWS publishes ApproximateAgeOfOldestMessage, the local runtime does not)"
            ),
            f"DeadLetterQueue    {dlq['visible']:>6} waiting, {dlq['in_flight']} in flight",
        ]
    )


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
