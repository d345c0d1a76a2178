"""chaostoolkit-aws activities written directly in an experiment, on `--target aws`.

Its probes only read (CloudWatch alarm state and metrics, Route 53 health check status and DNS answers, FIS
experiment state, RDS cluster status, ...): an experiment may call them as they are. Its actions change the
account outside the harness: no fault-ledger entry written ahead, no recovery after a crash, no compare-and-swap
undo, no expiry on AWS. They are refused, each naming the harness activity that makes the same change with all
of that (the undos the harness knows), or saying that the harness has none.
"""

from __future__ import annotations

from infra.targets.base import FUNC, Problems

__all__ = ["problems", "ALTERNATIVES"]

#: chaostoolkit-aws action -> the harness activity with a known, written-ahead undo.
ALTERNATIVES = {
    "chaosaws.fis.actions.start_experiment": "gameday.faults.fail_region(region, mode=fis) (undo: restore_region "
                                             "stops it and waits until FIS has put everything back)",
    "chaosaws.fis.actions.stop_experiment": "gameday.faults.restore_region(region)",
    "chaosaws.fis.actions.stop_experiments_by_tags": "gameday.faults.restore_region(region)",
    "chaosaws.rds.actions.failover_db_cluster": "gameday.faults.kill_db_writer() (an in-region failover, waited for; "
                                                "restore_writer=True fails back)",
    "chaosaws.elasticache.actions.test_failover": "gameday.faults.flush_cache(region) or cut_link('cache-<region>') "
                                                  "(checks the 24 h test-failover quota first)",
    "chaosaws.ssm.actions.put_parameter": "gameday.faults.cut_link('provider-<name>') or inject_http_error("
                                          "'provider-<name>', 429) (the kill switch, previous value restored)",
    "chaosaws.route53.actions.associate_vpc_with_zone": "gameday.faults.fail_region(region, mode=health_check | "
                                                        "dns_record)",
}


def problems(activity: str) -> Problems:
    """[] for a chaostoolkit-aws probe; a refusal naming the alternative for any of its actions."""
    module = activity.rsplit(".", 1)[0]
    if module.endswith(".probes"):
        return []
    alternative = ALTERNATIVES.get(activity)
    why = (f"{activity} is refused on aws: a chaostoolkit-aws action changes the account outside the harness (no "
           "fault-ledger entry written ahead, no recovery after a crash, no expiry on AWS)")
    if alternative:
        return [(FUNC, f"{why}; use {alternative}")]
    return [(FUNC, f"{why}, and the harness knows no undo for it; its probes (chaosaws.*.probes) may be used, and "
                   f"the harness's own faults are listed in infra/aws/README.md")]
