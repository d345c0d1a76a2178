"""The sampler process against a real HTTP stand-in: rates, failed and uncertain canary writes, SIGTERM flush."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from gameday.base.errors import GameDayError
from infra.local import postgres as pg
from probes.checks import canary_write, entry_point_healthy, single_writer, writer_region
from reports.recovery import split_brain_events
from tests.support import free_port, start_module, stop_process

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CANARY_TIMEOUT_S, SEQ_START = 0.5, 1000
FAIL_S, STALL_S = 0.6, 1.0



@pytest.fixture(scope="module")
def entry_url():
    """The fake entry point in a child process; stopped by PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_module("tests.integration.fake_entry_point", "--port", str(port), ready_url=f"{url}/health")
    try:
        yield url
    finally:
        stop_process(proc)


def start_sampler(tmp_path: Path, entry_url: str, **extra) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "probes.jsonl"
    config = {"out": str(out), "entry_url": entry_url, "health_interval_s": 0.1, "canary_rate_per_s": 20,
              "canary_timeout_s": CANARY_TIMEOUT_S, "canary_seq_start": SEQ_START,
              "routing_url": f"{entry_url}/_router/status", "routing_interval_s": 0.2,
              # Nothing listens there: the writers probe must keep sampling and report no writer.
              "pg_ports": {"nowhere-1": free_port()}, "replication_interval_s": 0.5, **extra}
    path = tmp_path / "sampler.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen([sys.executable, "-m", "probes.samplers", "--config", str(path)], cwd=ROOT)
    return proc, out


def read(out: Path) -> dict[str, list[dict]]:
    by_probe: dict[str, list[dict]] = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        by_probe.setdefault(record["probe"], []).append(record)
    return by_probe


def wait_for_lines(out: Path, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if out.exists() and out.stat().st_size > 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"no probe records in {out} after {timeout_s} s")


def test_rates_failures_stalls_and_sigterm(entry_url, tmp_path):
    proc, out = start_sampler(tmp_path, entry_url)
    try:
        wait_for_lines(out)
        time.sleep(0.7)
        fail_from = httpx.post(f"{entry_url}/_control/fail", params={"s": FAIL_S}).json()["until_s"] - FAIL_S
        time.sleep(FAIL_S + 0.3)
        stall_from = httpx.post(f"{entry_url}/_control/stall", params={"s": STALL_S}).json()["until_s"] - STALL_S
        time.sleep(STALL_S + 0.3)
        stopped_at = time.time()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=CANARY_TIMEOUT_S + 5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = read(out)
    health, canary = records["health"], records["canary"]
    first_s = min(h["at_s"] for h in health)
    span_s = stopped_at - first_s

    # Rates: intended times are fixed, so counts track the configured rates closely.
    assert 0.85 * span_s * 10 <= len(health) <= 1.1 * span_s * 10 + 1
    assert 0.85 * span_s * 20 <= len(canary) <= 1.1 * span_s * 20 + 1
    assert 0.8 * span_s * 5 <= len(records["routing"]) <= 1.1 * span_s * 5 + 1
    assert 0.7 * span_s * 2 <= len(records["writers"]) <= 1.1 * span_s * 2 + 1
    seqs = sorted(c["seq"] for c in canary)
    assert seqs == list(range(SEQ_START, SEQ_START + len(canary))), "one record per write, seqs gap-free"

    # SIGTERM flushed everything: probes run up to the signal and every write sent has its outcome.
    assert max(h["at_s"] for h in health) >= stopped_at - 0.3
    assert max(c["sent_s"] for c in canary) >= stopped_at - 0.3

    def sent_in(lo_s, hi_s):
        return [c for c in canary if lo_s <= c["sent_s"] < hi_s]

    failing = sent_in(fail_from + 0.05, fail_from + FAIL_S - 0.05)
    assert len(failing) >= 8 and all(c["outcome"] == "failed" and c["status"] == 503 for c in failing)
    down = [h for h in health if fail_from + 0.05 <= h["at_s"] < fail_from + FAIL_S - 0.05]
    assert len(down) >= 4 and not any(h["ok"] for h in down) and all(h["status"] == 503 for h in down)

    # Answers held for STALL_S: writes sent early in the stall time out (uncertain), later ones are acked late.
    stalled = sent_in(stall_from + 0.05, stall_from + STALL_S - CANARY_TIMEOUT_S - 0.05)
    assert len(stalled) >= 6 and all(c["outcome"] == "uncertain" and c["acked_s"] is None for c in stalled)
    committed = set(httpx.get(f"{entry_url}/_control/seqs").json())
    assert {c["seq"] for c in stalled} <= committed, "uncertain writes had in fact committed"
    assert all(c["acked_s"] >= stall_from + STALL_S - 0.05
               for c in sent_in(stall_from + STALL_S - CANARY_TIMEOUT_S + 0.05, stall_from + STALL_S) if c["acked_s"])

    calm = [c for c in canary if not (fail_from - 0.05 <= c["sent_s"] < stall_from + STALL_S + 0.05)]
    assert len(calm) >= 20 and all(c["outcome"] == "acked" and c["region"] == "fake-1" for c in calm)
    assert all(c["acked_s"] >= c["sent_s"] for c in calm)
    assert all(h["ok"] and h["latency_ms"] >= 0 for h in health if h["at_s"] < fail_from - 0.05)

    routing = records["routing"]
    assert all(r["served_region"] == "fake-1" and r["last_switch_at_s"] == 1.0 for r in routing)
    assert all(w["writable"] == [] for w in records["writers"])
    assert "replication" not in records


def test_duration_ends_the_run_by_itself(entry_url, tmp_path):
    proc, out = start_sampler(tmp_path, entry_url, duration_s=1.0, canary_seq_start=None)
    try:
        assert proc.wait(timeout=6) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    canary = read(out)["canary"]
    assert 15 <= len(canary) <= 22
    assert min(c["seq"] for c in canary) >= int(min(c["sent_s"] for c in canary) * 1000) - 1000


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-connections", "keep-alive"])
def test_with_fresh_connections_every_probe_opens_its_own_and_canaries_go_to_the_canary_url(tmp_path, fresh):
    """The AWS target's samplers: a connection (so a DNS lookup) per probe, canary writes to its canary endpoint."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_module("tests.integration.fake_entry_point", "--port", str(port), ready_url=f"{url}/health")
    try:
        before = httpx.get(f"{url}/_control/connections", timeout=2).json()
        proc, out = start_sampler(tmp_path, url, duration_s=1.0, canary_url=f"{url}/canary", fresh_connections=fresh,
                                  canary_seq_start=5_000_000)
        assert proc.wait(timeout=10) == 0
        opened = {k: v - before[k] for k, v in httpx.get(f"{url}/_control/connections", timeout=2).json().items()}
        committed = httpx.get(f"{url}/_control/seqs", timeout=2).json()
    finally:
        stop_process(server)
    probes = read(out)
    health, canary = len(probes["health"]), len(probes["canary"])
    assert {c["seq"] for c in probes["canary"] if c["outcome"] == "acked"} <= set(committed)
    if fresh:  # one connection a request (the fake answers every request: none is lost)
        assert opened == {"health": health, "write": canary}, (opened, health, canary)
    else:      # kept alive: a handful of connections serve every probe
        assert opened["health"] < health / 2 and opened["write"] < canary / 2, (opened, health, canary)


def test_bad_config_exits_2_naming_the_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"out": str(tmp_path / "p.jsonl"), "entry_url": "http://127.0.0.1:1",
                                "canary_rate_per_sec": 20}))
    proc = subprocess.run([sys.executable, "-m", "probes.samplers", "--config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 2 and "canary_rate_per_sec" in proc.stderr


def test_chaos_toolkit_checks(entry_url):
    assert entry_point_healthy(entry_url) is True
    assert entry_point_healthy(f"http://127.0.0.1:{free_port()}") is False
    record = canary_write(entry_url, 7)
    assert record["outcome"] == "acked" and record["seq"] == 7 and record["region"] == "fake-1"
    nowhere = {"nowhere-1": free_port(), "nowhere-2": free_port()}
    assert single_writer(nowhere) is True and writer_region(nowhere) is None


@pytest.fixture(scope="module")
def pg_pair(stack_root):
    """A real primary and streaming standby (region names `primary-1`, `standby-1`); stopped by PID."""
    bindir, user = pg.find_bindir(), pg.os_user()
    ports = {"primary-1": free_port(), "standby-1": free_port()}
    primary_dir, standby_dir = stack_root / "probe-pg" / "primary", stack_root / "probe-pg" / "standby"
    kwargs = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    procs = []
    try:
        pg.initdb(bindir, primary_dir, user)
        procs.append(subprocess.Popen(pg.server_argv(bindir, primary_dir, ports["primary-1"]), cwd="/",
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs))
        pg.wait_ready(ports["primary-1"], 30)
        pg.ensure_schema(ports["primary-1"])
        pg.base_backup(bindir, standby_dir, ports["primary-1"], user)
        procs.append(subprocess.Popen(pg.server_argv(bindir, standby_dir, ports["standby-1"]), cwd="/",
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs))
        pg.wait_ready(ports["standby-1"], 30)
        yield ports
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # fast shutdown: the postmaster stops its own children
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_writers_and_replication_from_real_postgres_and_a_promotion_shows_split_brain(entry_url, pg_pair, tmp_path):
    primary, standby = pg_pair["primary-1"], pg_pair["standby-1"]
    assert writer_region(pg_pair) == "primary-1" and single_writer(pg_pair) is True
    proc, out = start_sampler(tmp_path, entry_url, pg_ports=pg_pair, replication_interval_s=0.2)
    try:
        wait_for_lines(out)
        with psycopg.connect(pg.dsn(primary), autocommit=True) as conn:
            for seq in range(50):
                conn.execute("INSERT INTO canary_writes (seq, region) VALUES (%s, 'primary-1')", (seq,))
        time.sleep(1.0)
        with psycopg.connect(pg.dsn(standby), autocommit=True) as conn:
            conn.execute("SELECT pg_promote()")
        promoted_at = time.time()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=CANARY_TIMEOUT_S + 5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    records = read(out)
    before = [w for w in records["writers"] if w["at_s"] < promoted_at - 0.3]
    after = [w for w in records["writers"] if w["at_s"] > promoted_at + 0.5]
    assert before and all(w["writable"] == ["primary-1"] for w in before)
    assert after and all(w["writable"] == ["primary-1", "standby-1"] for w in after)
    assert split_brain_events(records["writers"]) >= len(after)
    lag = [r for r in records["replication"] if r["at_s"] < promoted_at - 0.3]
    assert lag and all(r["region"] == "standby-1" and r["lag_s"] is not None and r["lag_s"] >= 0 for r in lag)
    assert all(isinstance(r["behind_bytes"], int) and "/" in r["replay_lsn"] for r in lag)
    assert lag[-1]["behind_bytes"] == 0, "an idle pair catches up"
    assert single_writer(pg_pair) is False
    with pytest.raises(GameDayError, match="split brain"):
        writer_region(pg_pair)
