"""RPO on AWS: the canary writes that survived, read back from the final writer through the canary endpoint.

The harness cannot reach Aurora itself, so the stack offers a canary endpoint (`endpoints.canary_url` of the
target profile; infra/aws/README.md has its contract): `POST {canary_url}` with `{"seq": N}` writes one row of the
dedicated canary table (never business data) through the public write path, and `GET {canary_url}?since_seq=N`
answers `{"writer_region": "<region>", "seqs": [...]}`: the rows with seq >= N, read from the writer. The answer
counts only when its region is the one writer the RDS API shows; otherwise the final writer is unknown and so is
the RPO (INCONCLUSIVE), never a bound judged as a value.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

__all__ = ["READ_TIMEOUT_S", "surviving_canary_writes"]

READ_TIMEOUT_S = 10.0
ATTEMPTS = 3


def surviving_canary_writes(canary_url: str | None, since_seq: int, writers: list[str],
                            sleep: Callable[[float], None] = time.sleep) -> dict | None:
    """The canary seqs (>= since_seq) the final writer holds, with its region, and `note` saying why they are
    unknown when they are (`writer_region` None); None without a canary endpoint (RPO not measured)."""
    if canary_url is None:
        return None
    if len(writers) != 1:
        return {"seqs": [], "writer_region": None, "note": f"not exactly one writer: {writers or 'none'}"}
    problem = "no answer"
    for attempt in range(ATTEMPTS):
        try:
            answer = httpx.get(canary_url, params={"since_seq": since_seq}, timeout=READ_TIMEOUT_S)
            answer.raise_for_status()
            doc = answer.json()
            seqs, region = doc["seqs"], doc["writer_region"]
            if not isinstance(region, str) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seqs):
                raise ValueError(f"unexpected answer {str(doc)[:200]}")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < ATTEMPTS:
                sleep(1.0)
            continue
        if region != writers[0]:
            return {"seqs": [], "writer_region": None,
                    "note": f"the canary endpoint read from {region}, but the writer is {writers[0]}"}
        return {"seqs": sorted(s for s in seqs if s >= since_seq), "writer_region": region}
    return {"seqs": [], "writer_region": None, "note": f"GET {canary_url} failed {ATTEMPTS} times: {problem}"}
