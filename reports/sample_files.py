"""Read the raw-sample files of a load run (format: scenarios/recorder.py) into one pandas DataFrame."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT = "gameday-samples/1"
DTYPES = (("t_s", "<f8"), ("latency_ms", "<f4"), ("status", "<u2"), ("name", "u1"), ("flags", "u1"))
ROW_BYTES = 16
CACHE = np.array(["", "hit", "miss", "other"], dtype=object)


def decode_chunks(data: bytes) -> dict[str, np.ndarray]:
    """Columns of every complete chunk in `data`; a torn last chunk (a crash mid-write) is ignored."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name, _ in DTYPES}
    pos = 0
    while pos + 8 <= len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        if pos + 8 + n * ROW_BYTES > len(data):
            break
        pos += 8
        for name, dtype in DTYPES:
            column = np.frombuffer(data, dtype=dtype, count=n, offset=pos)
            parts[name].append(column)
            pos += column.nbytes
    return {name: np.concatenate(cols) if cols else np.empty(0, dtype) for (name, dtype), cols
            in zip(DTYPES, parts.values())}


def frame(columns: dict[str, np.ndarray], names: list[str], regions: list[str], source: str) -> pd.DataFrame:
    """Decoded columns as named, typed samples (flags split into ok, dropped, cache, region)."""
    flags = columns["flags"]
    region_table = np.array(["", *regions], dtype=object)
    name_table = np.array([*names, *["?"] * (256 - len(names))], dtype=object)
    return pd.DataFrame({
        "t_s": columns["t_s"], "latency_ms": columns["latency_ms"], "status": columns["status"],
        "name": name_table[columns["name"]], "ok": (flags & 1).astype(bool), "dropped": (flags & 2).astype(bool),
        "cache": CACHE[(flags >> 2) & 3], "region": region_table[np.minimum(flags >> 4, len(regions))],
        "source": source})


def read_samples(directory: Path) -> pd.DataFrame:
    """Every sample of every worker file in `directory`, ordered by intended start."""
    frames = []
    for meta_path in sorted(Path(directory).glob("samples-*.json")):
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: unknown sample format {meta.get('format')!r}, expected {FORMAT}")
        data_path = meta_path.with_suffix(".bin")
        data = data_path.read_bytes() if data_path.exists() else b""
        frames.append(frame(decode_chunks(data), meta["names"], meta["regions"], meta["stem"]))
    if not frames:
        return frame(decode_chunks(b""), [], [], "")
    return pd.concat(frames, ignore_index=True).sort_values("t_s", kind="stable", ignore_index=True)
