"""Compare-and-swap restores: an undo writes the previous value back only while the resource still holds the
value the fault set. A resource that holds the previous value already was restored (by a crashed recovery, or by a
person): nothing is written. One that holds anything else was changed since the fault (a kill switch set for a
real provider outage, an edited bucket policy): the restore stops with a conflict naming the resource, the value
found and the value expected, writes nothing and leaves the ledger entry open for a person, or for
`gameday recover --force`, which writes the previous value back anyway.

A recovery recorded before this existed carries no `fault_set` value: it is restored as before, unchecked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gameday.base.errors import StackError

__all__ = ["RestoreConflict", "should_write", "same_policy", "UNCHECKED"]

UNCHECKED = object()  # no `fault_set` recorded: an old ledger entry


class RestoreConflict(StackError):
    """The resource changed since the fault: the previous value is not written back."""


def should_write(resource: str, found: Any, fault_set: Any, previous: Any, *, force: bool,
                 same: Callable[[Any, Any], bool] = lambda a, b: a == b) -> bool:
    """True: write `previous` back (the resource holds what the fault set, or `force`, or an unchecked entry);
    False: it holds `previous` already; RestoreConflict when it holds neither."""
    if fault_set is UNCHECKED or force or same(found, fault_set):
        return not same(found, previous) or force
    if same(found, previous):
        return False
    raise RestoreConflict(f"restore of {resource} on target aws stopped: it holds {_show(found)}, not the value the "
                          f"fault set ({_show(fault_set)}) nor the previous one ({_show(previous)}); it was changed "
                          "since the fault, so nothing was written and the ledger entry stays open",
                          hint="find out who changed it and why; `gameday recover --force` writes the previous "
                               "value back anyway")


def same_policy(a: str | None, b: str | None) -> bool:
    """Two bucket policies are the same document (S3 may hand a policy back reformatted)."""
    if a is None or b is None:
        return a is b
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return a == b


def _show(value: Any) -> str:
    text = "nothing (absent)" if value is None else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."
