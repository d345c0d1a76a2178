"""Did the monitoring notice: time to detect, to notify, alarm cleared and false alarms from a hand-written alarm
record, judged as criteria (a figure not observed is a lower bound, never a PASS)."""

from __future__ import annotations

from functools import cache

import pytest

from gameday.base.models import Criterion, GameDaySpec
from reports.certify import Verdict, certify
from reports.detection import detection
from reports.findings import analyse
from tests.unit.test_findings import END, RECOVERED, SPEC, START, T0, run_inputs

ALARM = "region-health-eu-central-1"
ALARMS = {ALARM: {"period_s": 2.0, "state": "OK"}, "entry-health": {"period_s": 2.0, "state": "OK"},
          "api-throttles-eu-west-1": {"period_s": 2.0, "state": "OK"}}


def change(alarm: str, to: str, at_s: float, frm: str = "OK") -> dict:
    return {"alarm": alarm, "from": frm, "to": to, "at_s": at_s, "reason": "test", "period_s": 2.0}


def record(*changes: dict, deliveries: list | None = None) -> dict:
    return {"source": "test monitor", "alarms": ALARMS, "changes": list(changes),
            "deliveries": [] if deliveries is None else deliveries}


FIRED = record(change(ALARM, "ALARM", T0 + 4), change(ALARM, "OK", RECOVERED + 6, "ALARM"),
               deliveries=[{"channel": "oncall", "received_s": T0 + 4.2, "alarm": ALARM, "to": "ALARM"}])


def judged(alarms: dict | None, *criteria: str, quiet: tuple[str, ...] = ()) -> dict[str, tuple[Verdict, object]]:
    spec = GameDaySpec.model_validate({**SPEC.model_dump(), "detection": {"expected_alarms": (ALARM,),
                                                                          "quiet_alarms": quiet}})
    found = certify(analyse(run_inputs(alarms=alarms), spec), [Criterion.model_validate(c) for c in criteria])
    return {c.name: (c.verdict, c.measured) for c in found.criteria}


@cache
def _fired_verdicts():
    return judged(FIRED, "time_to_detect_s <= 5", "time_to_notify_s <= 5", "alarm_cleared_s <= 10",
                  "false_alarms == 0")


def test_a_fired_alarm_gives_detect_notify_and_cleared_times_from_the_fault_and_the_recovery():
    found = detection(FIRED, (ALARM,), (), t0_s=T0, baseline=(START, T0), last_recovery_s=RECOVERED, start_s=START,
                      end_s=END)
    assert found.detect_s == pytest.approx(4.0) and found.resolution_s == 2.0
    assert found.notify_s == pytest.approx(4.2) and found.cleared_s == pytest.approx(6.0)
    assert found.false_alarms == 0
    verdicts = _fired_verdicts()
    assert {name: v for name, (v, _) in verdicts.items()} == {
        "time_to_detect_s <= 5": Verdict.PASS, "time_to_notify_s <= 5": Verdict.PASS,
        "alarm_cleared_s <= 10": Verdict.PASS, "false_alarms == 0": Verdict.PASS}


def test_an_alarm_that_never_fires_fails_detection_once_the_time_observed_exceeds_the_target():
    verdicts = judged(record(), "time_to_detect_s <= 5", "time_to_notify_s <= 5", "time_to_detect_s <= 100")
    assert verdicts["time_to_detect_s <= 5"][0] is Verdict.FAIL      # 30 s observed without an alarm
    assert verdicts["time_to_notify_s <= 5"][0] is Verdict.FAIL
    assert verdicts["time_to_detect_s <= 100"][0] is Verdict.INCONCLUSIVE  # only a bound: never a PASS


def test_without_the_targets_monitoring_every_detection_figure_is_inconclusive():
    verdicts = judged(None, "time_to_detect_s <= 5", "false_alarms == 0")
    assert {v for v, _ in verdicts.values()} == {Verdict.INCONCLUSIVE}


def test_notifications_that_cannot_be_observed_leave_time_to_notify_unmeasured():
    aws_like = {**FIRED, "deliveries": None}
    verdicts = judged(aws_like, "time_to_detect_s <= 5", "time_to_notify_s <= 60")
    assert verdicts["time_to_detect_s <= 5"][0] is Verdict.PASS
    assert verdicts["time_to_notify_s <= 60"][0] is Verdict.INCONCLUSIVE


def test_an_expected_alarm_already_firing_at_the_fault_cannot_show_detection():
    already = record(change(ALARM, "ALARM", T0 - 3), change(ALARM, "OK", RECOVERED + 6, "ALARM"))
    found = detection(already, (ALARM,), (), t0_s=T0, baseline=(START, T0), last_recovery_s=RECOVERED,
                      start_s=START, end_s=END)
    assert found.detect_s is None and found.detect_bound_s is None
    assert "already in ALARM before the fault" in found.evidence
    assert found.false_alarms == 1  # and it fired in the baseline


def test_false_alarms_count_the_baseline_and_the_quiet_alarms_only():
    noisy = record(change("entry-health", "ALARM", T0 - 5), change(ALARM, "ALARM", T0 + 4),
                   change("api-throttles-eu-west-1", "ALARM", T0 + 8), change("entry-health", "ALARM", T0 + 9))
    verdicts = judged(noisy, "false_alarms == 0", quiet=("api-throttles-eu-west-1",))
    verdict, measured = verdicts["false_alarms == 0"]
    assert verdict is Verdict.FAIL and measured == 2  # entry-health in the baseline, the quiet throttle alarm


def test_an_alarm_still_firing_at_the_end_is_a_lower_bound_for_clearance():
    stuck = record(change(ALARM, "ALARM", T0 + 4))
    found = detection(stuck, (ALARM,), (), t0_s=T0, baseline=(START, T0), last_recovery_s=RECOVERED, start_s=START,
                      end_s=END)
    assert found.cleared_s is None and found.cleared_bound_s == pytest.approx(END - RECOVERED)
    assert "still in ALARM" in found.cleared_evidence


def test_a_detection_criterion_needs_the_expected_alarms():
    with pytest.raises(ValueError, match="need the alarms the fault must fire"):
        GameDaySpec.model_validate({"criteria": ["time_to_detect_s <= 60"]})
