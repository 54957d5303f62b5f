"""The redrive journal: one JSON line per step of each message's move, flushed to disk before
the next step, so that a run that died can be finished without losing or duplicating a message.

Steps of one move: `sending` (about to send the copy), `sent` (RetryQueue accepted the copy),
`deleted` (the dead-letter original is gone). What a resumed run does with a message still on
the dead-letter queue follows its last step: `sent` -> delete the original, no second copy;
`sending` -> uncertain (the copy may or may not exist): left on the queue and reported."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from gateway_ops.target import ROOT

JOURNAL_DIR = ROOT / ".dlq-journal"


def default_path(dlq_url: str) -> Path:
    return JOURNAL_DIR / f"{hashlib.sha256(dlq_url.encode()).hexdigest()[:16]}.jsonl"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.last: dict[str, str] = {}  # dead-letter message id -> last step
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash: its step did not happen
                self.last[entry["id"]] = entry["step"]
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def step(self, message_id: str, step: str, **extra: str) -> None:
        line = {"id": message_id, "step": step, "at": datetime.now(UTC).isoformat(), **extra}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.last[message_id] = step

    def pending(self) -> dict[str, str]:
        """Moves a run started and did not finish: id -> `sending` or `sent`."""
        return {i: s for i, s in self.last.items() if s in ("sending", "sent")}

    def close(self) -> None:
        self._file.close()
