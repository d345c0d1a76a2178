"""Across processes the way users run it: master + `gameday load-worker`, and plain `locust -f` on a scenario."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports.sample_files import read_samples
from tests.integration.test_load_open_model import echo_target, free_port  # noqa: F401  (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
SHORT = json.dumps({"name": "short", "mix": {"health": 1, "item": 1}, "wait_s": [0, 0.05],
                    "stages": [{"duration_s": 3, "users": 4, "spawn_rate": 4}]})


def test_samples_from_a_remote_worker_end_up_in_the_masters_run_directory(echo_target, tmp_path):  # noqa: F811
    profile = tmp_path / "short.yaml"
    profile.write_text(SHORT)
    port = free_port()
    master = subprocess.Popen([*GAMEDAY, "load", str(profile), "--target", echo_target, "--workers", "1",
                               "--master-port", str(port), "--out", str(tmp_path / "run"), "--timeout", "60"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    worker = subprocess.Popen([*GAMEDAY, "load-worker", "--master", "127.0.0.1", "--master-port", str(port),
                               "--timeout", "60", "--log", str(tmp_path / "worker.log")], cwd=ROOT)
    try:
        output, _ = master.communicate(timeout=90)
        assert worker.wait(timeout=30) == 0, "the worker ends with the master's test"
    finally:
        for proc in (master, worker):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert master.returncode == 0, output
    locust = json.loads((tmp_path / "run" / "locust.json").read_text())
    samples = read_samples(tmp_path / "run" / "samples")
    assert len(samples) == sum(e["num_requests"] for e in locust) > 50
    assert len(set(samples["source"])) == 1
    assert "exact P50" in output and f"requests {len(samples)} (Locust counted {len(samples)})" in output


def test_the_locustfile_runs_under_plain_locust_with_the_recorder_when_asked(echo_target, tmp_path):  # noqa: F811
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "scenarios" / "locustfile.py"), "--headless",
           "--host", echo_target, "--gameday-profile", SHORT, "--json-file", "out", "--only-summary",
           "--gameday-samples-dir", "samples"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"gameday: raw samples -> {tmp_path / 'samples'}" in done.stdout + done.stderr
    samples = read_samples(tmp_path / "samples")
    assert len(samples) == sum(e["num_requests"] for e in json.loads((tmp_path / "out.json").read_text())) > 50


def test_the_masters_account_of_its_workers_is_written_however_the_profiles_end_reaches_it(echo_target,  # noqa: F811
                                                                                            tmp_path):
    """The profile's end calls quit from the shape's greenlet; when the last worker had quit, Locust's stop() killed
    that greenlet in the middle of the wait for the final reports, and load/workers.json (which worker reported to
    the end) was never written: 1 run in 4 with two workers. Three runs here."""
    for attempt in range(3):
        run = tmp_path / str(attempt)
        cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "scenarios" / "locustfile.py"), "--headless",
               "--host", echo_target, "--gameday-profile", SHORT, "--processes", "2", "--gameday-workers", "2",
               "--master-bind-port", str(port := free_port()), "--master-port", str(port),
               "--json-file", str(run / "out"), "--only-summary", "--gameday-samples-dir", str(run / "samples")]
        done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr[-2000:]
        assert (run / "workers.json").exists(), f"run {attempt + 1}: no workers.json\n{done.stderr[-3000:]}"
        account = json.loads((run / "workers.json").read_text())
        assert len(account["workers"]) == 2 and all(w["final_report"] for w in account["workers"].values())
        requests = sum(e["num_requests"] for e in json.loads((run / "out.json").read_text()))
        assert len(read_samples(run / "samples")) == requests > 50


def test_plain_locusts_users_and_run_time_win_over_the_profile_and_nothing_is_written(echo_target,  # noqa: F811
                                                                                      tmp_path):
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "scenarios" / "locustfile.py"), "--headless",
           "--host", echo_target, "-u", "3", "-r", "3", "-t", "3s", "--json-file", "out", "--only-summary"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)  # steady: 60 s open model
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads((tmp_path / "out.json").read_text())
    assert sum(e["num_requests"] for e in stats) > 10
    seconds = max(e["last_request_timestamp"] for e in stats) - min(e["start_time"] for e in stats)
    assert seconds < 4.5, f"-t 3s ended the test after {seconds:.1f} s of requests, not the profile's 60 s"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no load-samples/ in the working directory


def test_stopping_the_load_of_a_run_with_workers_keeps_every_workers_last_samples(echo_target, tmp_path):  # noqa: F811
    """What `gameday run --workers N` does at the end of the measured run: SIGTERM to the master only, which quits
    its workers and waits for their final reports. The samples then equal the target's count (but for a request
    cut in flight), the last second included; a SIGTERM to the whole group lost up to 3 s (a report interval)."""
    import httpx

    from gameday import children
    from gameday.load import LoadSpec, locust_command
    from scenarios.profiles import load_profile

    profile = children.until_stopped(load_profile(json.dumps(
        {"name": "open", "mix": {"item": 1}, "stages": [{"duration_s": 5, "rate_per_s": 80}]})))
    spec = LoadSpec(profile=profile, target=echo_target, out_dir=tmp_path / "load", processes=2)
    httpx.get(f"{echo_target}/_count", params={"reset": 1})
    proc = subprocess.Popen(locust_command(spec), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while httpx.get(f"{echo_target}/_count").json()["answered"] < 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.7)  # mid report interval: samples of the last seconds are still in the workers
        stopped_s = time.time()
        children.stop_load(proc)
    finally:
        children.stop(proc)
    answered = httpx.get(f"{echo_target}/_count").json()["answered"]
    samples = read_samples(spec.samples_dir)
    sent = samples[~samples["dropped"]]
    # Requests in flight at the stop are answered but cut before their sample: one per worker on a quiet box, up to
    # 3 on a busy one (40/s a worker, replies slowed to tens of ms). Losing the final reports would lose ~240.
    assert 0 <= answered - len(sent) <= 2 * 3, (answered, len(sent))
    assert sent["t_s"].max() > stopped_s - 1.0  # the final second reached the master
