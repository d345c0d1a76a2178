"""`gameday run --dry-run` on a target that records dry runs (aws): walk the experiment's activities in process
against a dry-run driver.

Every activity of the steady-state hypothesis, the method and the rollbacks is called in order (pauses are not
waited) with the driver handed over by `infra.targets.using`. The driver prints each call it would make (the AWS
driver's call recorder: reads such as STS, Describe*, List*, Get* are sent, since the guard needs the account and
the tags; every change is printed as `[dry-run] would call ...` and never sent). The fault ledger of a dry run is
a temporary file, deleted at the end: the target's real ledger is not touched.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from gameday.base.errors import GameDayError
from gameday.base.models import ExperimentSpec, experiment_activities
from infra.targets import using

__all__ = ["walk", "HTTP_PROBES"]

#: Activities that only send HTTP (to the entry point, or the release's watch url): printed, not sent (a dry run
#: sends nothing but AWS reads), with what they would send.
HTTP_PROBES = {"probes.stack.entry_point_healthy": "GET {entry}/health",
               "probes.stack.wait_for_impact": "GET {entry}/health until it fails or another region answers",
               "remediations.cache.warm_cache": "GET {entry}/items/<id> for every item",
               "remediations.deploy.rollback_on_regression": "GET <the release's watch url>/items/<id> until a "
                                                             "regression or the timeout (then roll back)"}


def walk(spec: ExperimentSpec, make_driver: Callable[[Path], object], echo: Callable[[str], None],
         variables: dict | None = None) -> dict:
    """Call every activity of `spec` on `make_driver(state_root)` (a dry-run driver whose ledger lives under
    `state_root`); returns the driver's `dry_run_summary()`. A guard refusal propagates (InvalidInput: the run would be
    refused); any other failure is a GameDayError naming the activity."""
    from chaoslib import substitute
    from chaoslib.configuration import load_configuration

    raw = spec.raw
    configuration = {**load_configuration(raw.get("configuration") or {}), **(variables or {})}
    with tempfile.TemporaryDirectory(prefix="gameday-dry-run-") as tmp:
        driver = make_driver(Path(tmp))
        echo(f"dry run of {spec.source} on {driver.describe()}: no change is sent")
        driver.preflight()
        with using(driver):
            for loc, activity in experiment_activities(raw):
                provider = activity.get("provider") or {}
                name = f"{provider.get('module')}.{provider.get('func')}"
                if provider.get("type") != "python":
                    echo(f"{loc} {activity.get('name')}: {provider.get('type')} activity, not run in a dry run")
                    continue
                args = substitute(provider.get("arguments") or {}, configuration, {})
                echo(f"{loc} {activity.get('name')}: {name}({json.dumps(args, sort_keys=True)})")
                if name in HTTP_PROBES:
                    echo(f"  would {HTTP_PROBES[name].format(entry=driver.entry_url)} (HTTP, not sent in a dry run)")
                    continue
                func = getattr(importlib.import_module(provider["module"]), provider["func"])
                try:
                    result = func(**args, configuration=configuration, secrets={})
                except GameDayError:
                    raise
                except Exception as exc:
                    raise GameDayError(f"dry run of {loc} ({activity.get('name')}, {name}) "
                                       f"on target {driver.name} failed: {type(exc).__name__}: {exc}",
                                       hint="check the profile's resources; reads are sent even in a dry run") from exc
                echo(f"  -> {json.dumps(result, default=str, sort_keys=True)[:400]}")
                for key, seconds in (activity.get("pauses") or {}).items():
                    echo(f"  pause {key}: {substitute(seconds, configuration, {})} s (not waited in a dry run)")
    counts = driver.dry_run_summary()
    echo(f"dry run on target {driver.name}: " + counts.get("summary", ", ".join(
        f"{key.replace('_', ' ')} {value}" for key, value in counts.items())))
    return counts
