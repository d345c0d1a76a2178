"""The local stack's monitoring (the CloudWatch stand-in): samples the stack, evaluates alarms, notifies.

    python -m infra.local.monitor --config STACK_DIR/monitor.json

Every `sample_s` it measures the metrics of infra.local.alarm_rules.METRICS (region health through each region's
link from the edge, as Route 53's checkers see it; the gateways' request, error and throttle counters and ready
instances; Redis evictions). At the end of each alarm's period (aligned to the epoch, as CloudWatch's) it makes
the period's datapoint and evaluates the alarm (alarm_rules.evaluate); a state change is appended to
`alarm-history.jsonl` with its time and reason, and a change to ALARM (and back to OK, `ok_actions`) is POSTed to
the webhook sink (infra/local/pager.py) for each of the alarm's channels.

Control API: `GET /_monitor/status` (each alarm's state and definition), `GET /_monitor/history[?since=EPOCH_S]`
(state changes), `POST /_monitor/alarms/<name> {"enabled": false}` (an alarm that is not evaluated any more: the
stand-in for an alarm that was deleted or never deployed; `true` brings it back, from INSUFFICIENT_DATA).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import redis.asyncio as aredis
import yaml
from aiohttp import web
from pydantic import ValidationError

from gameday.base.errors import InvalidInput
from infra.local.alarm_rules import AlarmFile, AlarmSpec, State, datapoint, evaluate
from infra.local.serving import serve_until_signal

HISTORY_FILE = "alarm-history.jsonl"
KEEP_SAMPLES_S = 600.0
KEEP_DATAPOINTS = 100


def _log(message: str) -> None:
    print(f"monitor: {message}", file=sys.stderr, flush=True)


def load_alarms(path: Path) -> AlarmFile:
    """The alarm definitions in `path`; InvalidInput naming the file and the field when they cannot be used."""
    try:
        return AlarmFile.model_validate(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"reading of alarm definitions {path} failed: {exc}",
                           hint="infra/local/alarms/<environment>.yaml holds them") from None
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"alarm definitions {path} are invalid: {where}",
                           hint="compare with infra/local/alarms/dev.yaml") from None


class Alarm:
    """One alarm's running state: its datapoints, state and whether it is evaluated."""

    def __init__(self, spec: AlarmSpec, now_s: float):
        self.spec = spec
        self.state = State.INSUFFICIENT_DATA
        self.since_s = now_s
        self.reason = "not evaluated yet"
        self.enabled = True
        self.datapoints: list[float | None] = []
        self.next_end_s = (math.floor(now_s / spec.period_s) + 1) * spec.period_s

    def as_dict(self) -> dict:
        return {"state": self.state.value, "since_s": self.since_s, "reason": self.reason, "enabled": self.enabled,
                **self.spec.model_dump(mode="json")}


class Monitor:
    def __init__(self, config: dict, alarms: AlarmFile):
        self.config = config
        self.file = alarms
        self.dir = Path(config["dir"])
        self.dir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self.alarms = {a.name: Alarm(a, now) for a in alarms.alarms}
        self.samples: dict[tuple[str, str | None], list[tuple[float, float]]] = defaultdict(list)
        self.history: list[dict] = self._read_history()
        self._counters: dict[tuple[str, str], float] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task] = []

    def _read_history(self) -> list[dict]:
        path = self.dir / HISTORY_FILE
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    # --- sampling ------------------------------------------------------------------------------------------
    async def _healthy(self, url: str) -> float:
        try:
            async with self._session.get(url + "/health") as resp:
                await resp.read()
                return 1.0 if resp.status == 200 else 0.0
        except (TimeoutError, aiohttp.ClientError, OSError):
            return 0.0

    def _delta(self, key: tuple[str, str], total: float) -> float | None:
        previous, self._counters[key] = self._counters.get(key), total
        return None if previous is None or total < previous else total - previous  # a restart resets a counter

    async def _gateway(self, region: str, url: str, at: float) -> None:
        try:
            async with self._session.get(url + "/_region/status") as resp:
                body = await resp.json()
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
            return  # no sample: a missing datapoint, treated as the alarm says
        deltas = {m: self._delta((m, region), body.get(f"{m}_total", 0))
                  for m in ("requests", "responses", "errors", "throttles")}
        for metric in ("requests", "errors", "throttles"):
            if deltas[metric] is not None:
                self.samples[(metric, region)].append((at, deltas[metric]))
        if deltas["responses"] and deltas["errors"] is not None:  # both counted at the answer: a share, 0..1
            self.samples[("error_rate", region)].append((at, deltas["errors"] / deltas["responses"]))
        self.samples[("instances", region)].append((at, float(body.get("ready_instances", 0))))

    async def _evictions(self, region: str, port: int, at: float) -> None:
        client = aredis.Redis(host=self.config["host"], port=port, socket_timeout=self.file.probe_timeout_s,
                              socket_connect_timeout=self.file.probe_timeout_s)
        try:
            evicted = (await client.info("stats")).get("evicted_keys", 0)
        except (aredis.RedisError, OSError):
            return
        finally:
            await client.aclose()
        if (value := self._delta(("cache_evictions", region), evicted)) is not None:
            self.samples[("cache_evictions", region)].append((at, value))

    async def _bounded(self, probe, failed=None):
        """A probe cut off at the probe timeout (a client's own retries must not stall the round): `failed` then."""
        try:
            return await asyncio.wait_for(probe, self.file.probe_timeout_s + 0.05)
        except TimeoutError:
            return failed

    async def sample(self) -> None:
        at = time.time()
        regions = self.config["regions"]
        health = await asyncio.gather(
            self._bounded(self._healthy(self.config["entry_url"]), 0.0),
            *[self._bounded(self._healthy(r["link_url"]), 0.0) for r in regions.values()],
            *[self._bounded(self._gateway(name, r["gateway_url"], at)) for name, r in regions.items()],
            *[self._bounded(self._evictions(name, r["redis_port"], at)) for name, r in regions.items()])
        self.samples[("entry_healthy", None)].append((at, health[0]))
        for i, region in enumerate(regions):
            self.samples[("region_healthy", region)].append((at, health[1 + i]))
        for key, points in self.samples.items():
            self.samples[key] = [p for p in points if p[0] >= at - KEEP_SAMPLES_S]

    # --- evaluation ----------------------------------------------------------------------------------------
    def evaluate_due(self, now_s: float) -> list[tuple[Alarm, dict]]:
        """Evaluate every alarm whose period ended by `now_s`; the changes made."""
        changes = []
        for alarm in self.alarms.values():
            spec = alarm.spec
            while alarm.next_end_s <= now_s:
                end = alarm.next_end_s
                alarm.next_end_s += spec.period_s
                if not alarm.enabled:
                    continue
                values = [v for t, v in self.samples.get((spec.metric, spec.region), [])
                          if end - spec.period_s <= t < end]
                alarm.datapoints = (alarm.datapoints + [datapoint(values, spec.statistic)])[-KEEP_DATAPOINTS:]
                new = evaluate(alarm.datapoints, spec, alarm.state)
                if new is not alarm.state:
                    recent = alarm.datapoints[-spec.evaluation_periods:]
                    shown = ", ".join("missing" if v is None else f"{v:g}" for v in recent)
                    change = {"alarm": spec.name, "from": alarm.state.value, "to": new.value, "at_s": end,
                              "period_s": spec.period_s, "region": spec.region,
                              "reason": f"{spec.statistic.value} of {spec.metric} per {spec.period_s:g} s: [{shown}] "
                                        f"vs {spec.comparison.value} {spec.threshold:g} "
                                        f"({spec.m} of {spec.evaluation_periods} to alarm)"}
                    alarm.state, alarm.since_s, alarm.reason = new, end, change["reason"]
                    self._record(change)
                    changes.append((alarm, change))
        return changes

    def _record(self, change: dict) -> None:
        self.history.append(change)
        with open(self.dir / HISTORY_FILE, "a") as f:
            f.write(json.dumps(change) + "\n")
        _log(f"{change['alarm']}: {change['from']} -> {change['to']} at {change['at_s']:.3f}: {change['reason']}")

    async def _notify(self, alarm: Alarm, change: dict) -> None:
        wanted = change["to"] == State.ALARM.value or (change["to"] == State.OK.value and alarm.spec.ok_actions
                                                        and change["from"] == State.ALARM.value)
        for channel in alarm.spec.actions if wanted else ():
            try:
                async with self._session.post(f"{self.config['sink_url']}/{channel}", json=change) as resp:
                    await resp.read()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                _log(f"notification of {change['alarm']} to {channel} failed: {type(exc).__name__}: {exc}")

    async def _loop(self) -> None:
        """Sample every `sample_s`; evaluate each alarm as soon as its period has ended (a sample round in flight
        finishes first: its samples, stamped when it began, belong to the period)."""
        next_sample = time.monotonic()
        while True:
            if time.monotonic() >= next_sample:
                next_sample = max(next_sample + self.file.sample_s, time.monotonic())
                await self.sample()
            for alarm, change in self.evaluate_due(time.time()):
                self._tasks.append(asyncio.get_running_loop().create_task(self._notify(alarm, change)))
            self._tasks = [t for t in self._tasks if not t.done()]
            next_end = min((a.next_end_s for a in self.alarms.values()), default=math.inf)
            await asyncio.sleep(max(0.0, min(next_sample - time.monotonic(), next_end - time.time() + 0.005)))

    # --- lifecycle and control API -------------------------------------------------------------------------
    async def start(self, app: web.Application) -> None:
        timeout = aiohttp.ClientTimeout(total=self.file.probe_timeout_s)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._tasks.append(asyncio.get_running_loop().create_task(self._loop()))

    async def stop(self, app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        await self._session.close()

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"sample_s": self.file.sample_s, "probe_timeout_s": self.file.probe_timeout_s,
                                  "alarms": {name: a.as_dict() for name, a in self.alarms.items()}})

    async def history_since(self, request: web.Request) -> web.Response:
        try:
            since = float(request.query.get("since", "0"))
        except ValueError:
            return web.json_response({"error": "since must be epoch seconds"}, status=400)
        return web.json_response({"changes": [c for c in self.history if c["at_s"] >= since]})

    async def set_enabled(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.alarms:
            return web.json_response({"error": f"unknown alarm {name!r}", "valid": sorted(self.alarms)}, status=404)
        try:
            body = await request.json()
        except ValueError:
            body = None
        enabled = body.get("enabled") if isinstance(body, dict) else None
        if not isinstance(enabled, bool):
            return web.json_response({"error": 'body must be {"enabled": true|false}'}, status=400)
        alarm = self.alarms[name]
        was, alarm.enabled = alarm.enabled, enabled
        if enabled and not was:  # back from nothing: its old datapoints are stale
            alarm.datapoints, alarm.state, alarm.since_s = [], State.INSUFFICIENT_DATA, time.time()
            alarm.reason = "enabled again"
        _log(f"{name}: {'enabled' if enabled else 'disabled (not evaluated)'}")
        return web.json_response({"alarm": name, "enabled": enabled, "was_enabled": was})


def build_app(monitor: Monitor) -> web.Application:
    app = web.Application()
    app.router.add_get("/_monitor/status", monitor.status)
    app.router.add_get("/_monitor/history", monitor.history_since)
    app.router.add_post("/_monitor/alarms/{name}", monitor.set_enabled)
    app.router.add_get("/health", lambda request: web.json_response({"ok": True}))
    app.on_startup.append(monitor.start)
    app.on_cleanup.append(monitor.stop)
    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.local.monitor", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, type=Path, help="the monitor's JSON config (written by `stack up`)")
    args = p.parse_args(argv)
    config = json.loads(args.config.read_text())
    monitor = Monitor(config, load_alarms(Path(config["alarms_file"])))
    asyncio.run(serve_until_signal(build_app(monitor), config["host"], config["port"], on_listening=lambda: _log(
        f"listening on http://{config['host']}:{config['port']}; {len(monitor.alarms)} alarms from "
        f"{config['alarms_file']}, sampling every {monitor.file.sample_s:g} s")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
