"""A real crash on the AWS target: a process injecting through the AWS driver (moto server on loopback, reached
through AWS_ENDPOINT_URL) is SIGKILLed mid-fault; `gameday recover --target aws` in a new process restores the
exact previous values from the profile's ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gameday.base.ledger import open_from, read_entries
from tests.contract.conftest import PRIMARY, SECONDARY, profile_dict, seed, session
from tests.support import free_port, stop_process, wait_http

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BEDROCK = "/gameday/providers/bedrock/disabled"


@pytest.fixture
def moto_server(tmp_path, monkeypatch):
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/moto-api/", proc, timeout_s=30)
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.delenv("HTTPS_PROXY", raising=False)
        yield url
    finally:
        stop_process(proc)


def kill_switch(region: str) -> str:
    return session().client("ssm", region_name=region).get_parameter(Name=BEDROCK)["Parameter"]["Value"]


def test_a_sigkilled_injection_is_recovered_by_gameday_recover_in_a_new_process(moto_server, tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(profile_dict(seed())))
    env = {**os.environ, "GAMEDAY_STACK_ROOT": str(tmp_path / "stacks"), "GAMEDAY_TARGET": "aws",
           "GAMEDAY_TARGET_PROFILE": str(profile)}
    ledger = tmp_path / "stacks" / "aws-contract-123456789012" / "faults.jsonl"
    child = subprocess.Popen([sys.executable, "-c", "from gameday.faults import cut_link; "
                              "cut_link('provider-bedrock', duration_s=120)"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not any(e["event"] == "injected" for e in read_entries(ledger)):
            assert child.poll() is None and time.monotonic() < deadline, "the injection never completed"
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert kill_switch(PRIMARY) == kill_switch(SECONDARY) == "on"
    assert len(open_from(read_entries(ledger))) == 1

    env.pop("GAMEDAY_TARGET"), env.pop("GAMEDAY_TARGET_PROFILE")
    done = subprocess.run([sys.executable, "-m", "gameday.cli", "recover", "--target", "aws",
                           "--profile", str(profile)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recovered 1 open fault(s)" in done.stdout
    assert kill_switch(PRIMARY) == kill_switch(SECONDARY) == "off"
    assert open_from(read_entries(ledger)) == []
