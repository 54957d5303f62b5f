"""The local runtime's state file (`.devserver/state.json`): test fixtures and scripts poll for it
and read it at once, so it must never be seen half written."""

from __future__ import annotations

import json
from pathlib import Path

from devserver.runtime import write_state


def test_state_file_is_replaced_whole_never_rewritten_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_state(path, {"api": "http://127.0.0.1:1"})

    # A reader that opened the file a moment too early (the fixture polls for its existence).
    with path.open() as early_reader:
        write_state(path, {"api": "http://127.0.0.1:2", "sandboxes": {"td": "x"}})
        # Rewritten in place, the open file would be truncated under the reader.
        assert json.loads(early_reader.read()) == {"api": "http://127.0.0.1:1"}

    assert json.loads(path.read_text()) == {"api": "http://127.0.0.1:2", "sandboxes": {"td": "x"}}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left
