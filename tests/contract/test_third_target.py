"""A third target is one driver: a test-only driver, registered here, validates and dry-runs a shipped experiment
with no change outside the tests (the proof that a GCP or Kubernetes driver would be one file and one row)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from gameday.base.catalogue import driver_calls
from gameday.base.errors import InvalidInput
from gameday.base.ledger import read_entries
from gameday.cli import cli
from infra.targets.base import FUNC, MEMBERS, UNRESOLVED, DetectionTiming, SamplerSources
from infra.targets.registry import IncompleteDriver, register, unregister

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ("eu-central-1", "eu-west-1")


class RecordingTarget:
    """Acts on nothing: records every call. Its own check refuses mode `fis` (it has no fault injection service)."""

    name = "recording"
    needs_profile = False
    records_dry_runs = True
    replays_without_ledger = True
    dry_run: bool
    ledger_path: Path
    entry_url: str
    edge_url = None
    calls: list[str] = []  # shared by every instance: what the dry run asked for

    def __init__(self, root: Path, dry_run: bool = False):
        self.ledger_path = root / "recording" / "faults.jsonl"
        self.entry_url = "http://127.0.0.1:9"
        self.dry_run = dry_run

    def _did(self, call: str, **args) -> dict:
        self.calls.append(f"{call}({', '.join(f'{k}={v}' for k, v in args.items())})")
        return {"action": call, **args, "dry_run": self.dry_run, "at_s": time.time()}

    # lifecycle
    @classmethod
    def configure(cls, options):
        return None

    @classmethod
    def check(cls, activity, args, config):
        if activity == "gameday.faults.fail_region" and args.get("mode", UNRESOLVED) == "fis":
            return [("mode", "the recording target has no fault injection service; valid: partition, power_off")]
        if activity == "probes.stack.served_region":
            return [(FUNC, "no router here")]
        return []

    @classmethod
    def open(cls, settings, options):
        return cls(Path(options.state_root or settings.stack_root), options.dry_run)

    @classmethod
    def from_environment(cls, settings, configuration):
        return cls(Path(settings.stack_root))

    def describe(self):
        return "the recording target"

    def preflight(self):
        return {"ready": True}

    def prepare(self, progress):
        return self.preflight()

    def child_env(self):
        return {"GAMEDAY_TARGET": self.name}

    @contextmanager
    def write_ahead(self, callback):
        from infra.targets.base import DEFAULT_RECOVERY
        callback(DEFAULT_RECOVERY)
        yield self

    def dry_run_summary(self):
        return {"calls": len(self.calls)}

    def reference_problems(self):
        return []

    def restore_reference(self):
        return self._did("restore_reference")

    # faults, remediations, probes
    def fail_region(self, region, mode):
        return self._did("fail_region", region=region, mode=mode)

    def restore_region(self, region, **recorded):
        return self._did("restore_region", region=region)

    def cut_link(self, link):
        return self._did("cut_link", link=link)

    def restore_link(self, link, **recorded):
        return self._did("restore_link", link=link)

    def add_latency(self, link, ms, jitter_ms=0.0):
        return self._did("add_latency", link=link, ms=ms)

    def remove_latency(self, link, **recorded):
        return self._did("remove_latency", link=link)

    def limit_bandwidth(self, link, rate_kb_s):
        return self._did("limit_bandwidth", link=link, rate_kb_s=rate_kb_s)

    def remove_bandwidth_limit(self, link, **recorded):
        return self._did("remove_bandwidth_limit", link=link)

    def inject_http_error(self, link, status, probability=1.0):
        return self._did("inject_http_error", link=link, status=status)

    def remove_http_error(self, link, **recorded):
        return self._did("remove_http_error", link=link)

    def kill_db_writer(self, restore_writer=False):
        return self._did("kill_db_writer", restore_writer=restore_writer)

    def restore_writer(self):
        return self._did("restore_writer")

    def flush_cache(self, region):
        return self._did("flush_cache", region=region)

    def silence_alarm(self, alarm):
        return self._did("silence_alarm", alarm=alarm)

    def restore_alarm(self, alarm, **recorded):
        return self._did("restore_alarm", alarm=alarm)

    def alarm_record(self, since_s):
        return None

    def promote_secondary(self, allow_data_loss=False):
        return self._did("promote_secondary", allow_data_loss=allow_data_loss)

    def failback(self):
        return self._did("failback")

    def deploy(self, region, version, error_rate=0.0, added_latency_ms=0.0, force=False):
        return self._did("deploy", region=region, version=version)

    def rollback_deployment(self, region, version=None, **recorded):
        return self._did("rollback_deployment", region=region)

    def release_watch_url(self, region):
        return self.entry_url

    def writer_regions(self):
        return [REGIONS[0]]

    def served_region(self):
        return REGIONS[0]

    def region_capacity(self, region):
        return self._did("region_capacity", region=region)

    def surviving_writes(self, since_seq):
        return None

    def sampler_sources(self):
        return SamplerSources()

    ledger_store = None

    def exclusive(self, run_id, duration_s):
        from contextlib import nullcontext
        return nullcontext()

    def detection_timing(self):
        return DetectionTiming(1.0, 1, 0.0, "a recording target reroutes in a second")


@pytest.fixture
def recording(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_STACK_ROOT", str(tmp_path))
    RecordingTarget.calls.clear()
    register(RecordingTarget)
    yield RecordingTarget
    unregister("recording")


def test_a_registered_third_target_validates_a_shipped_experiment(recording):
    result = CliRunner().invoke(cli, ["validate", "experiments/region-failover.yaml", "--target", "recording"])
    assert result.exit_code == 0, result.output
    assert "experiments/region-failover.yaml: ok" in result.output


def test_the_third_targets_own_check_refuses_what_it_cannot_do_with_the_location(recording, tmp_path):
    text = (ROOT / "experiments/region-failover.yaml").read_text().replace("power_off", "fis")
    assert "fis" in text
    experiment = tmp_path / "fis.yaml"
    experiment.write_text(text)
    result = CliRunner().invoke(cli, ["validate", str(experiment), "--target", "recording"])
    assert result.exit_code == 2
    assert ("method.0.provider.arguments.mode: the recording target has no fault injection service; valid: "
            "partition, power_off (from configuration.failure_mode)") in result.output


def test_a_registered_third_target_dry_runs_a_shipped_experiment_without_touching_anything(recording, tmp_path):
    result = CliRunner().invoke(cli, ["run", "experiments/region-failover.yaml", "--target", "recording",
                                      "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "on the recording target: no change is sent" in result.output
    assert recording.calls[:2] == ["fail_region(region=eu-central-1, mode=power_off)",
                                   "promote_secondary(allow_data_loss=True)"]
    assert "failback()" in recording.calls
    assert not (tmp_path / "recording" / "faults.jsonl").exists()  # the dry run's ledger was temporary


def test_the_fault_catalogue_names_only_calls_the_seam_lists():
    assert set(driver_calls()) <= set(MEMBERS)


def test_a_driver_missing_part_of_the_seam_is_refused_naming_what_is_missing():
    Incomplete = type("Incomplete", (), {"name": "incomplete", "fail_region": lambda self, region, mode: {}})
    with pytest.raises(IncompleteDriver, match=r"driver Incomplete \(incomplete\) .* missing .*restore_region"):
        register(Incomplete)


def test_an_unknown_target_is_refused_listing_the_registered_ones(recording):
    result = CliRunner().invoke(cli, ["validate", "experiments/region-failover.yaml", "--target", "gcp"])
    assert result.exit_code == 2
    assert "'gcp' is not a known target; valid targets: local, aws, recording" in result.output


def test_faults_through_the_third_target_are_written_ahead_and_undone(recording, tmp_path):
    from gameday import faults
    from infra.targets import using

    driver = RecordingTarget(tmp_path)
    with using(driver):
        faults.limit_bandwidth("db-eu-central-1", 100)
        faults.remove_bandwidth_limit("db-eu-central-1")
    lines = read_entries(driver.ledger_path)
    assert [(e["event"], e.get("kind")) for e in lines] == [("begin", "bandwidth"), ("injected", None),
                                                            ("recovered", None)]
    assert lines[0]["recovery"] == {"call": "remove_bandwidth_limit", "args": {"link": "db-eu-central-1"}}
    assert driver.calls == ["limit_bandwidth(link=db-eu-central-1, rate_kb_s=100)",
                            "remove_bandwidth_limit(link=db-eu-central-1)"]
    with pytest.raises(InvalidInput, match="target 'gcp' is unknown; valid targets: local, aws, recording"):
        from infra.targets.registry import driver_class
        driver_class("gcp")
