"""Append-only probes.jsonl writer: records are buffered in memory and flushed every ~0.2 s and on close."""

from __future__ import annotations

import json
from pathlib import Path


class JsonlWriter:
    """One JSON object per line; memory stays bounded because the owner calls `flush()` on a short cadence."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._pending: list[str] = []
        self.written = 0

    def append(self, record: dict) -> None:
        self._pending.append(json.dumps(record, separators=(",", ":")))

    def extend(self, records: list[dict]) -> None:
        for record in records:
            self.append(record)

    def flush(self) -> None:
        if self._pending:
            self._file.write("\n".join(self._pending) + "\n")
            self.written += len(self._pending)
            self._pending.clear()
        self._file.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
