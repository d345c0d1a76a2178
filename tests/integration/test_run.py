"""`gameday run` end to end on the real stack: measurements against ground truth, and the safety contract
(invalid input touches nothing; signals, crashes and stop conditions always leave the region restored)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from gameday.base.ledger import open_from, read_entries
from infra.local import postgres
from infra.local.layout import PRIMARY_REGION, SECONDARY_REGION, router_link
from infra.local.processes import children_of
from infra.local.toxiproxy_client import ToxiproxyClient
from infra.targets.local import LocalTarget
from tests.support import (
    WebhookSink,
    gameday_run,
    journal_activity,
    partition_experiment,
    run_argv,
    run_env,
    running_stack,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA = Path(__file__).resolve().parents[1] / "data"
EXPERIMENTS = DATA / "experiments"
ROOT = Path(__file__).resolve().parents[2]
SUMMARY_ROUNDING_S = 0.0005  # summary.json gives seconds to 3 decimals


@pytest.fixture(scope="module")
def target(stack_root: Path):
    with running_stack(stack_root, "runs") as driver:
        yield driver


def _drawn(experiment: Path, tmp_path: Path, name: str, low: float, high: float) -> Path:
    """A copy of `experiment` whose configuration value `name` is drawn from U(low, high); the seed is printed
    (pytest shows it with a failure) so a failing draw can be run again (GAMEDAY_TEST_SEED)."""
    seed = int(os.environ.get("GAMEDAY_TEST_SEED") or random.randrange(1 << 30))
    value = round(random.Random(seed).uniform(low, high), 3)
    print(f"{experiment.name}: {name} = {value} (GAMEDAY_TEST_SEED={seed})")
    doc = yaml.safe_load(experiment.read_text())
    doc["configuration"][name] = value
    path = tmp_path / experiment.name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _why(run: Path, result: subprocess.CompletedProcess) -> str:
    """What made a run fail: its reasons and failed criteria, then its output."""
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    failed = [c for c in summary.get("criteria", []) if c["verdict"] != "PASS"]
    return f"reasons={summary.get('reasons')} failed={failed}\n{result.stdout[-4000:]}{result.stderr[-4000:]}"


def _ledger(target: LocalTarget) -> list[dict]:
    return read_entries(target.stack.dir / "faults.jsonl")


def _assert_restored(target: LocalTarget) -> None:
    assert open_from(_ledger(target)) == []
    assert ToxiproxyClient(target.layout.toxiproxy_url).proxy(router_link(PRIMARY_REGION))["enabled"] is True
    assert target.writer_regions() == [PRIMARY_REGION]


def _held_partition(target: LocalTarget, out: Path, *, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    **env: str) -> subprocess.Popen:
    """`gameday run` of the 60 s partition, returned once the ledger says the partition is injected."""
    since = len(_ledger(target))
    proc = subprocess.Popen(run_argv(target, EXPERIMENTS / "hold-partition.yaml", out), cwd=ROOT,
                            env=run_env(target, **env), stdout=stdout, stderr=stderr, text=True)
    try:
        _wait_injected(target, proc, since)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


def _kill_fault_proxy(target: LocalTarget) -> None:
    """SIGKILL the stack's fault proxy (every link lives in it) and wait until it is gone."""
    proxy = next(c for c in target.stack.components() if c.kind == "faultproxy")
    os.kill(proxy.ref.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while proxy.ref.alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def _recover(target: LocalTarget) -> subprocess.CompletedProcess:
    """`gameday recover` of `target`'s stack, in a process of its own (as a person would run it after a crash)."""
    return subprocess.run([sys.executable, "-m", "gameday.cli", "recover", "--base-port",
                           str(target.layout.router_port)], capture_output=True, text=True, cwd=ROOT,
                          env=run_env(target), timeout=180)


def _wait_injected(target: LocalTarget, proc: subprocess.Popen, since: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(e["event"] == "injected" for e in _ledger(target)[since:]):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the fault was never injected")


def test_an_invalid_experiment_exits_2_and_touches_nothing(target, tmp_path):
    before = len(_ledger(target))
    result = gameday_run(target, DATA / "typo-gameday-field.yaml", tmp_path / "run")
    assert result.returncode == 2, result.stderr
    assert "typo-gameday-field.yaml" in result.stderr
    assert not (tmp_path / "run").exists()
    assert len(_ledger(target)) == before


def test_an_entry_point_outage_of_known_length_measures_as_the_rto(target, tmp_path):
    experiment = _drawn(EXPERIMENTS / "entry-outage.yaml", tmp_path, "outage_s", 1.0, 4.0)
    result = gameday_run(target, experiment, tmp_path / "run")
    assert result.returncode == 0, _why(tmp_path / "run", result)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # Ground truth from the ledger: the link was down from its `injected` line (t0) for at least `duration_s` (the
    # action sleeps that long before restoring it), and up again by its `recovered` line.
    ledger = read_entries(tmp_path / "run" / "faults.jsonl")
    begin, injected, recovered = (next(e for e in ledger if e["event"] == name) for name in
                                  ("begin", "injected", "recovered"))
    down_s, up_by_s = begin["params"]["duration_s"], recovered["at_s"] - injected["at_s"]
    for kind in ("read", "write"):
        rto_s, bracket = summary["rto"][f"{kind}_s"], summary["rto"][kind]
        # The reported bracket holds the truth: its last failure came before the link was back, its first
        # sustained success was answered after the outage; the estimate is late by at most the widest probe gap.
        assert bracket["low_s"] <= up_by_s + SUMMARY_ROUNDING_S, (kind, summary["rto"], up_by_s)
        assert bracket["high_s"] >= down_s - SUMMARY_ROUNDING_S, (kind, summary["rto"], down_s)
        assert bracket["low_s"] <= rto_s <= bracket["high_s"], (kind, summary["rto"])
        assert rto_s <= up_by_s + bracket["max_gap_s"] + SUMMARY_ROUNDING_S, (kind, summary["rto"], up_by_s)
    _assert_restored(target)


def test_a_replication_cut_before_a_power_off_measures_as_the_rpo_and_loses_exactly_the_unreplicated_writes(
        target, tmp_path):
    run = tmp_path / "run"
    result = gameday_run(target, _drawn(EXPERIMENTS / "rpo-window.yaml", tmp_path, "gap_s", 1.0, 3.0), run)
    assert result.returncode == 0, _why(run, result)
    summary = json.loads((run / "summary.json").read_text())
    injected = {e["id"]: e for e in read_entries(run / "faults.jsonl") if e["event"] == "injected"}
    begun = {e["id"]: e for e in read_entries(run / "faults.jsonl") if e["event"] == "begin"}
    at = {begun[i]["kind"]: e["at_s"] for i, e in injected.items()}
    cut = next(i for i in injected if begun[i]["kind"] == "link_cut")
    cut_from, cut_by, t0 = begun[cut]["at_s"], injected[cut]["at_s"], at["region_outage"]  # the cut: in [from, by]
    records = [json.loads(line) for line in (run / "probes.jsonl").read_text().splitlines()]
    acked = [r for r in records if r["probe"] == "canary" and r["outcome"] == "acked"]
    surviving = set(json.loads((run / "surviving_seqs.json").read_text())["seqs"])
    assert summary["rpo"]["lost_writes"] == len({r["seq"] for r in acked} - surviving) > 0
    before_t0 = sorted((r for r in acked if r["acked_s"] <= t0), key=lambda r: r["sent_s"])
    kept = max((r for r in before_t0 if r["seq"] in surviving), key=lambda r: r["sent_s"])
    lost = [r for r in before_t0 if r["seq"] not in surviving]
    # The loss is one run of writes from the cut on: nothing sent after the cut survived, every acked write after
    # the newest survivor is lost, and a write acked before the cut began is lost only by replication lag, which on
    # loopback stays within one canary interval (the RPO's resolution).
    resolution_s = summary["rpo"]["resolution_s"]
    assert kept["sent_s"] <= cut_by, (kept, cut_by)
    assert lost == [r for r in before_t0 if r["sent_s"] > kept["sent_s"]]
    oldest_lost = min(lost, key=lambda r: r["acked_s"])
    assert oldest_lost["acked_s"] >= cut_from - resolution_s, (oldest_lost, cut_from)
    # So RPO reads the gap between the cut and t0, late by at most the canary's own step after the newest survivor.
    step_s = oldest_lost["acked_s"] - kept["sent_s"]
    assert t0 - cut_by - step_s - SUMMARY_ROUNDING_S <= summary["rpo"]["s"] <= t0 - cut_from + resolution_s, \
        (summary["rpo"], t0 - cut_by, t0 - cut_from, step_s)
    assert summary["split_brain_events"] == 0
    _assert_restored(target)


def test_the_region_failover_gameday_passes_on_the_local_stack(target, tmp_path):
    run = tmp_path / "run"
    # This stack's router never fails over by itself (tests.support.running_stack): its reroute time (200 s) would
    # raise the hold to it; the remediation reroutes here (tests/integration/test_failover_ops.py raises one).
    result = gameday_run(target, ROOT / "experiments" / "region-failover.yaml", run, "--quick",
                         GAMEDAY_DETECTION_HOLDS="0")
    assert result.returncode == 0, _why(run, result)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["verdict"] == "PASS"
    assert {"name", "target", "measured", "unit", "verdict", "evidence"} <= summary["criteria"][0].keys()
    assert {"read_s", "write_s", "phases", "resolution_s"} <= summary["rto"].keys()
    assert {"s", "acked_writes", "lost_writes", "resolution_s"} <= summary["rpo"].keys()
    assert summary["fault_windows"] and summary["fault_windows"][0]["start_s"] > 0
    for name in ("report.md", "junit.xml", "journal.json", "faults.jsonl", "probes.jsonl"):
        assert (run / name).is_file(), name
    assert json.loads((run / "run.json").read_text())["holds_raised"] == []
    assert "holds hold_s kept as written (GAMEDAY_DETECTION_HOLDS=0)" in result.stdout
    impact = journal_activity(run, "impact-seen")["output"]  # a power-off bites at once through the entry point
    injected = next(e for e in read_entries(run / "faults.jsonl") if e["event"] == "injected")
    assert impact["observed"] and impact["at_s"] >= injected["at_s"] and impact["after_s"] < 2, impact
    _assert_restored(target)
    # Detection against its ground truth: the alarm's definition (2 of 2 periods of 2 s, infra/local/alarms/)
    # counted from the ledger's fault time agrees within one period; the pager got it right after.
    by_name = {c["name"]: c for c in summary["criteria"]}
    detect, notify = by_name["time_to_detect_s <= 10"]["measured"], by_name["time_to_notify_s <= 12"]["measured"]
    assert abs(detect - 2 * 2.0) <= 2.0, by_name["time_to_detect_s <= 10"]
    assert detect <= notify < detect + 1.0
    assert by_name["false_alarms == 0"]["verdict"] == "PASS"
    alarms = json.loads((run / "alarms.json").read_text())
    assert any(c["alarm"] == "region-health-eu-central-1" and c["to"] == "ALARM" for c in alarms["changes"])


def test_an_expected_alarm_that_was_silenced_fails_time_to_detect_and_is_monitored_again_after(target, tmp_path):
    """The negative variant: the region's health alarm is not evaluated (deleted, never deployed) when the region
    is lost; the run FAILs on time_to_detect_s with the evidence, and the alarm is restored by the rollbacks."""
    doc = yaml.safe_load((ROOT / "experiments" / "region-failover.yaml").read_text())
    silence = {"type": "action", "name": "silence-region-alarm", "provider": {
        "type": "python", "module": "gameday.faults", "func": "silence_alarm",
        "arguments": {"alarm": "region-health-eu-central-1"}}}
    doc["method"].insert(0, silence)
    # restored last: an alarm monitored again while the region is still down would fire then (and detect late)
    doc["rollbacks"].append({**silence, "name": "restore-region-alarm",
                             "provider": {**silence["provider"], "func": "restore_alarm"}})
    experiment = tmp_path / "region-failover-undetected.yaml"
    experiment.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = tmp_path / "run"
    result = gameday_run(target, experiment, run, "--quick", GAMEDAY_DETECTION_HOLDS="0")
    assert result.returncode == 1 and (run / "summary.json").is_file(), _why(run, result)
    by_name = {c["name"]: c for c in json.loads((run / "summary.json").read_text())["criteria"]}
    detect = by_name["time_to_detect_s <= 10"]
    assert detect["verdict"] == "FAIL"
    assert "no expected alarm (region-health-eu-central-1) went to ALARM" in detect["evidence"]
    assert by_name["rto_write_s <= 900"]["verdict"] == "PASS"  # the stack recovered: only detection failed
    status = target.stack.status()["alarms"]["region-health-eu-central-1"]
    assert status["enabled"] is True
    _assert_restored(target)




@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_mid_fault_aborts_with_3_and_leaves_the_region_restored(target, tmp_path, signum):
    proc = _held_partition(target, tmp_path / "run", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 3, output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["aborted"]["reason"].startswith("interrupted")
    _assert_restored(target)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_after_the_run_is_killed_gameday_recover_restores_the_region(target, tmp_path):
    proc = _held_partition(target, tmp_path / "run")
    family = children_of(proc.pid)
    measuring = [pid for pid in family if any(m in _cmdline(pid) for m in ("probes.samplers", "locust"))]
    assert any("probes.samplers" in _cmdline(pid) for pid in measuring), [_cmdline(pid) for pid in family]
    os.kill(proc.pid, signal.SIGKILL)                # the runner crashes ...
    proc.wait()
    deadline = time.monotonic() + 10                 # ... its load and samplers end with it (no orphan load)
    while any(_alive(pid) for pid in measuring) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in measuring)
    for pid in family:                               # the Chaos Toolkit child would carry on: crash it too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert ToxiproxyClient(target.layout.toxiproxy_url).proxy(router_link(PRIMARY_REGION))["enabled"] is False
    recover = _recover(target)
    assert recover.returncode == 0, recover.stderr
    assert "recovered 1 open fault" in recover.stdout
    _assert_restored(target)


def test_recover_restarts_a_killed_fault_proxy_and_the_links_come_back(target):
    _kill_fault_proxy(target)                           # a lost stack component: every link is gone with it
    assert "faultproxy not running" in target.reference_problems()
    recover = _recover(target)
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert "restoring it" in recover.stdout and "is in its reference topology" in recover.stdout
    assert target.reference_problems() == []
    _assert_restored(target)


def test_recover_after_the_fault_proxy_died_with_the_writer_in_the_secondary_region_fails_back(target):
    # Crash trial (seed 1205, trial 9): the proxy restarted with the replication link of `stack up` (towards the
    # primary region's database, by then a standby itself): the failback's standby streamed from itself.
    target.fail_region(PRIMARY_REGION, "power_off")
    target.promote_secondary()
    target.restore_region(PRIMARY_REGION)               # the old primary back as a standby of the interim writer
    assert target.writer_regions() == [SECONDARY_REGION]
    _kill_fault_proxy(target)
    seq = time.time_ns()  # a write the interim writer takes after the crash: the failback must stream it
    with psycopg.connect(postgres.dsn(target.layout.pg_port(SECONDARY_REGION)), autocommit=True) as conn:
        conn.execute("INSERT INTO canary_writes (seq, region) VALUES (%s, %s)", (seq, SECONDARY_REGION))
    recover = _recover(target)
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert target.reference_problems() == []
    _assert_restored(target)
    with psycopg.connect(postgres.dsn(target.layout.pg_port(PRIMARY_REGION)), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM canary_writes WHERE seq = %s", (seq,)).fetchone()[0] == 1


def test_recover_json_reports_what_it_recovered(target, tmp_path):
    proc = _held_partition(target, tmp_path / "run")
    for pid in [proc.pid, *children_of(proc.pid)]:      # the run and its children are lost
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    recover = subprocess.run([sys.executable, "-m", "gameday.cli", "recover", "--json", "--base-port",
                              str(target.layout.router_port)], capture_output=True, text=True, cwd=ROOT,
                             env=run_env(target), timeout=700)
    assert recover.returncode == 0, recover.stderr
    found = json.loads(recover.stdout)
    assert found["reference_topology"] is True and found["ledger"].endswith("faults.jsonl")
    assert [(d["kind"], d["target"]) for d in found["recovered"]] == [("region_outage", PRIMARY_REGION)]
    _assert_restored(target)


def test_recover_of_a_crashed_runs_partition_restarts_the_fault_proxy_that_died_with_it(target, tmp_path):
    proc = _held_partition(target, tmp_path / "run")
    for pid in [proc.pid, *children_of(proc.pid)]:      # the run and its children are lost ...
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    _kill_fault_proxy(target)                           # ... and the fault proxy with them
    recover = _recover(target)
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert "recovered 1 open fault" in recover.stdout
    _assert_restored(target)


def test_a_breached_stop_condition_aborts_within_seconds_and_rolls_back(target, tmp_path):
    started = time.monotonic()
    result = gameday_run(target, EXPERIMENTS / "stop-condition.yaml", tmp_path / "run")
    assert result.returncode == 3, result.stdout + result.stderr
    assert time.monotonic() - started < 40, "the 60 s hold must have been cut short"
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "stop condition breached" in meta["aborted"]["reason"]
    _assert_restored(target)


def test_the_users_chaos_toolkit_controls_run_with_the_experiment_and_rollbacks_still_always_run(target, tmp_path):
    (tmp_path / "gameday_user_control.py").write_text(
        "import os\n"
        "def before_experiment_control(context, **kwargs):\n"
        "    open(os.environ['CONTROL_LOG'], 'a').write('before ' + context['title'] + '\\n')\n"
        "def after_experiment_control(context, state, **kwargs):\n"
        "    open(os.environ['CONTROL_LOG'], 'a').write('after ' + state['status'] + '\\n')\n")
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump({
        "controls": {"user": {"provider": {"type": "python", "module": "gameday_user_control"}}},
        "runtime": {"rollbacks": {"strategy": "default"}},     # the run's `always` wins
        "auths": {"hooks.example.com": {"type": "bearer", "value": "token-NEVER-IN-THE-RUN-DIR"}}}))
    experiment = tmp_path / "short-partition.yaml"
    doc = partition_experiment(experiment)
    run, log = tmp_path / "run", tmp_path / "control.log"
    result = gameday_run(target, experiment, run, GAMEDAY_CHAOS_SETTINGS=str(settings), CONTROL_LOG=str(log),
                         PYTHONPATH=str(tmp_path))
    assert result.returncode == 0, _why(run, result)
    assert log.read_text().splitlines() == [f"before {doc['title']}", "after completed"]
    assert [r["activity"]["name"] for r in json.loads((run / "journal.json").read_text())["rollbacks"]] == [
        "restore-primary-region"]
    assert not any("token-NEVER" in p.read_text(errors="ignore") for p in run.rglob("*") if p.is_file())
    _assert_restored(target)


def test_a_runs_verdict_is_posted_to_the_webhook_and_its_url_never_reaches_the_output_or_the_files(target,
                                                                                                    tmp_path):
    experiment = tmp_path / "short-partition.yaml"
    partition_experiment(experiment)
    run = tmp_path / "run"
    with WebhookSink() as sink:
        result = gameday_run(target, experiment, run, GAMEDAY_NOTIFY_WEBHOOK_URL=sink.url)
    assert result.returncode == 0, _why(run, result)
    assert sink.received == [{"text": f"GameDay run of short-partition: PASS (exit 0); report: {run / 'report.html'}"}]
    assert "secret-token" not in result.stdout + result.stderr
    assert not any("secret-token" in p.read_text(errors="ignore") for p in run.rglob("*") if p.is_file())


def test_a_secret_never_reaches_the_run_directory(target, tmp_path):
    secret = "s3cr3t-token-4f9a1c"
    result = gameday_run(target, EXPERIMENTS / "secret-echo.yaml", tmp_path / "run", GAMEDAY_TEST_TOKEN=secret)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert files
    assert not [p for p in files if secret.encode() in p.read_bytes()]
    assert "REDACTED" in (tmp_path / "run" / "journal.json").read_text()
    assert secret not in result.stdout + result.stderr


@contextlib.contextmanager
def _small_file_system(path: Path, size_mb: int):
    """A tmpfs of `size_mb` mounted at `path` (the runs directory of a test), unmounted afterwards."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                             capture_output=True, text=True)
    # The suite runs as root (it installs its own packages): a tmpfs is how a full disk is made real here.
    assert mounted.returncode == 0, f"mounting a tmpfs needs root with CAP_SYS_ADMIN: {mounted.stderr.strip()}"
    try:
        yield path
    finally:
        for _ in range(2):  # the read-only bind mount over it, then the tmpfs
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _make_read_only(path: Path) -> None:
    """Turn `path` read-only under a running writer, as a file system remounted read-only after an error does for
    every new write: a read-only bind mount over it (a busy tmpfs cannot be remounted read-only itself)."""
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)


def _fill(path: Path) -> None:
    """Fill the file system under `path` to the last byte, as a runaway log of another program would."""
    with open(path / "filler", "wb", buffering=0) as out:
        for block in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while out.write(b"\0" * block):
                    pass


@pytest.mark.parametrize("how", ["read-only", "full"])
def test_a_runs_directory_that_stops_taking_writes_mid_fault_aborts_with_3_after_its_rollbacks(target, tmp_path,
                                                                                             how):
    with _small_file_system(tmp_path / "runs", 32) as runs:
        since = len(_ledger(target))
        proc = _held_partition(target, runs / "run", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               GAMEDAY_MIN_FREE_MB="1")
        try:
            _make_read_only(runs) if how == "read-only" else _fill(runs)
            output, errors = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 3, output + errors
        assert "Traceback" not in output + errors
        # The disk guard aborted the experiment (its rollbacks ran) within seconds, not the 60 s hold.
        assert ("not writable" if how == "read-only" else "disk nearly full") in output, output
        # One clear line on stderr when the evidence could not be written, or an aborted run's verdict.
        assert errors.startswith("error: run ") or "aborted" in output, errors
        _assert_restored(target)
        assert [e for e in _ledger(target)[since:] if e["event"] == "recovered"]
