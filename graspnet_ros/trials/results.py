"""The trial log (JSONL, one line per finished trial, flushed and synced) and the session report.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


# -- the JSONL log -----------------------------------------------------------------
class TrialLog:
    """Append-only JSON-lines log of trials, keyed by ``record['key']``.

    Opening an existing log reads every complete line; a torn last line (the
    process died while writing it) is cut off so new records start cleanly.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, dict] = {}
        if self.path.exists():
            raw = self.path.read_bytes()
            good = 0
            for line in raw.splitlines(keepends=True):
                if not line.endswith(b"\n"):
                    break
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    break
                self.records[rec["key"]] = rec
                good += len(line)
            if good < len(raw):
                with open(self.path, "r+b") as f:
                    f.truncate(good)

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def append(self, record: dict) -> None:
        if "key" not in record:
            raise ValueError("a trial record needs a 'key'")
        line = json.dumps(record, separators=(",", ":"), default=_json_default) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records[record["key"]] = json.loads(line)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)!r}")


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write JSON through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=_json_default)
    os.replace(tmp, path)
    return path


@dataclass
class TrialsReport:
    """Summary of a run: ``table`` is the console text, ``data`` goes to results.json."""

    table: str
    data: dict
    plot: Path | None = None
    log: Path | None = None
