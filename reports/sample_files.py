"""Read the raw-sample files of a load run (format: scenarios/recorder.py) into one pandas DataFrame."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

FORMAT = "gameday-samples/1"
DTYPES = (("t_s", "<f8"), ("latency_ms", "<f4"), ("status", "<u2"), ("name", "u1"), ("flags", "u1"))
ROW_BYTES = 16
CACHE = ["", "hit", "miss", "other"]


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
    """Decoded columns as named, typed samples (flags split into ok, dropped, cache, region).

    Text columns are categoricals built from the codes on disk: comparing or mapping 10 million names
    touches each distinct name once, not each sample."""
    flags = columns["flags"]
    name_codes = np.minimum(columns["name"], len(names)).astype(np.int16)
    return pd.DataFrame({
        "t_s": columns["t_s"], "latency_ms": columns["latency_ms"], "status": columns["status"],
        "name": pd.Categorical.from_codes(name_codes, [*names, "?"]),
        "ok": (flags & 1).astype(bool), "dropped": (flags & 2).astype(bool),
        "cache": pd.Categorical.from_codes(((flags >> 2) & 3).astype(np.int8), CACHE),
        "region": pd.Categorical.from_codes(np.minimum(flags >> 4, len(regions)).astype(np.int8), ["", *regions]),
        "source": pd.Categorical.from_codes(np.zeros(len(flags), np.int8), [source])})


TEXT_COLUMNS = ("name", "cache", "region", "source")


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
    if len(frames) == 1:
        return frames[0].sort_values("t_s", kind="stable", ignore_index=True)
    # Workers name their journeys in their own order: unite the categories, else concat falls back to objects.
    united = {c: union_categoricals([f[c] for f in frames], ignore_order=True) for c in TEXT_COLUMNS}
    merged = pd.concat([f.drop(columns=list(TEXT_COLUMNS)) for f in frames], ignore_index=True)
    for column, values in united.items():
        merged[column] = values
    return merged.sort_values("t_s", kind="stable", ignore_index=True)[list(frames[0].columns)]
