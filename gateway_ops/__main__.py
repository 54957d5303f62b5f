"""`python -m gateway_ops`: the dead-letter queue and RetryQueue of the local runtime (default:
its .devserver/state.json) or of a deployed stack (--stack NAME, your AWS profile and region).

  dlq summary                 counts by kind, reason and age (no request bodies)
  dlq show ID                 one message, envelope included, by envelope id or message id
  dlq export FILE             every message with its attributes, as JSON lines (nothing removed)
  dlq redrive [filters]       back to RetryQueue: --kind, --reason, --older-than, --dry-run
  retry status                RetryQueue's depth, in flight, age of the oldest message
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from gateway_ops import durations, journal, reports
from gateway_ops.dead_letters import read_all
from gateway_ops.redrive import Mover, Outcome, Selection
from gateway_ops.target import LOCAL_STATE, Target, TargetError, local, stack


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gateway_ops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--stack", metavar="NAME", help="a deployed stack (CloudFormation)")
    where.add_argument(
        "--state", type=Path, default=LOCAL_STATE, help="the local runtime's state file"
    )
    groups = p.add_subparsers(dest="group", required=True)

    dlq = groups.add_parser("dlq", help="the dead-letter queue").add_subparsers(
        dest="command", required=True
    )
    s = dlq.add_parser("summary", help="counts by kind, reason and age")
    s.add_argument("--json", action="store_true")
    show = dlq.add_parser("show", help="one message, by envelope id or message id")
    show.add_argument("id")
    export = dlq.add_parser("export", help="every message as JSON lines (non-destructive)")
    export.add_argument("file", type=Path)
    r = dlq.add_parser("redrive", help="move messages back to RetryQueue")
    r.add_argument(
        "--kind", help="td.postback, td.ingest, td.personalization, rr.opt_out, rr.content"
    )
    r.add_argument("--reason", help="a part of the reason (case-insensitive)")
    r.add_argument("--older-than", type=durations.parse, metavar="D", help="e.g. 30m, 2h, 7d")
    r.add_argument("--dry-run", action="store_true", help="count what would move, move nothing")
    r.add_argument("--journal", type=Path, help="default: .dlq-journal/<queue>.jsonl")
    r.add_argument(
        "--resend-uncertain",
        action="store_true",
        help="also move messages whose copy an interrupted run may or may not have sent",
    )
    r.add_argument("--no-move-task", action="store_true", help="never use SQS's move task")
    r.add_argument("--no-progress", action="store_true")

    retry = groups.add_parser("retry", help="RetryQueue").add_subparsers(
        dest="command", required=True
    )
    rs = retry.add_parser("status", help="depth, in flight, age of the oldest message")
    rs.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        target = stack(args.stack) if args.stack else local(args.state)
    except TargetError as exc:
        print(f"gateway_ops: {exc}", file=sys.stderr)
        return 2
    return COMMANDS[(args.group, args.command)](target, args)


def dlq_summary(target: Target, args: argparse.Namespace) -> int:
    data = reports.summary(read_all(target.sqs(), target.dlq_url))
    print(json.dumps(data, indent=2) if args.json else reports.render_summary(target, data))
    return 0


def dlq_show(target: Target, args: argparse.Namespace) -> int:
    # The operator asked for this message: its envelope (with the request) is printed.
    found = [m for m in read_all(target.sqs(), target.dlq_url) if m.matches(args.id)]
    if not found:
        print(f"gateway_ops: no message {args.id} on the DeadLetterQueue", file=sys.stderr)
        return 1
    for letter in found:
        print(json.dumps(letter.record(), indent=2))
    return 0


def dlq_export(target: Target, args: argparse.Namespace) -> int:
    letters = read_all(target.sqs(), target.dlq_url)
    # Request bodies inside: readable by the operator only.
    fd = os.open(args.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        for letter in letters:
            out.write(json.dumps(letter.record()) + "\n")
    print(f"exported {len(letters)} messages to {args.file} (left on the queue)")
    return 0


def dlq_redrive(target: Target, args: argparse.Namespace) -> int:
    log = journal.Journal(args.journal or journal.default_path(target.dlq_url))
    try:
        outcome = Mover(
            target, log, progress=not args.no_progress, resend_uncertain=args.resend_uncertain
        ).run(
            Selection(args.kind, args.reason, args.older_than),
            dry_run=args.dry_run,
            move_task=not args.no_move_task,
        )
    finally:
        log.close()
    print(render_outcome(outcome, dry_run=args.dry_run, journal_path=log.path))
    return 1 if outcome.uncertain else 0


def render_outcome(outcome: Outcome, *, dry_run: bool, journal_path: Path) -> str:
    lines = []
    if outcome.note:
        lines.append(f"note: {outcome.note}")
    if outcome.task_handle:
        lines.append(f"SQS message move task {outcome.task_handle}: moved {outcome.moved}")
        return "\n".join(lines)
    verb = "would move" if dry_run else "moved"
    lines.append(f"{verb} {outcome.selected} to RetryQueue ({outcome.method}):")
    lines += [f"  {n:>5}  {kind:<20} {reason}" for (kind, reason), n in outcome.matched.items()]
    if outcome.finished:
        lines.append(f"finished {outcome.finished} moves of an earlier run (copies already sent)")
    lines.append(f"left on the DeadLetterQueue: {outcome.kept} not selected")
    if outcome.uncertain:
        lines.append(
            f"UNCERTAIN: {len(outcome.uncertain)} left on the DeadLetterQueue: an interrupted run "
            f"may have sent their copies (journal {journal_path}); check RetryQueue, then "
            "rerun with --resend-uncertain or leave them: " + ", ".join(outcome.uncertain)
        )
    return "\n".join(lines)


def retry_status(target: Target, args: argparse.Namespace) -> int:
    data = reports.retry_status(target)
    print(json.dumps(data, indent=2) if args.json else reports.render_retry_status(target, data))
    return 0


COMMANDS = {
    ("dlq", "summary"): dlq_summary,
    ("dlq", "show"): dlq_show,
    ("dlq", "export"): dlq_export,
    ("dlq", "redrive"): dlq_redrive,
    ("retry", "status"): retry_status,
}

if __name__ == "__main__":
    sys.exit(main())
