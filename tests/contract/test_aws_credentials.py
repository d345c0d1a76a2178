"""A GameDay outlives one set of temporary credentials: over two simulated hours, with an assumed role whose
credentials AWS lets expire after an hour (tests/contract/aws_behaviour.py SecurityTokenService), every call of the
driver is signed with valid credentials and the final recovery succeeds."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import botocore.session
import pytest

from infra.targets.aws import AwsTarget
from infra.targets.aws_credentials import ROLE_SESSION_S, session_for
from infra.targets.profile import profile_from_dict
from tests.contract.aws_behaviour import SecurityTokenService
from tests.contract.conftest import PRIMARY, profile_dict

ROLE = "arn:aws:iam::123456789012:role/gameday"
STEP_S = 300.0  # the soak probes the target every five minutes


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sts(clock) -> SecurityTokenService:
    return SecurityTokenService(clock=clock)


def _driver(world, clock, sts) -> AwsTarget:
    profile = profile_from_dict(profile_dict(world, credentials={"role_arn": ROLE}))
    base = boto3.Session(botocore_session=botocore.session.get_session())  # the ambient identity: moto's keys
    sts.attach_session(base, PRIMARY)
    session = session_for(profile, base=base, now=clock.utc)
    sts.check_signing(session)
    return AwsTarget(profile, session=session, clock=clock)


def test_a_two_hour_gameday_on_an_assumed_role_recovers_with_fresh_credentials(world, clock, sts):
    driver = _driver(world, clock, sts)
    injected = driver.fail_region(PRIMARY)                       # t = 0: the fault
    assert injected["recovery"]["call"] == "restore_region"
    for _ in range(int(2 * 3600 / STEP_S)):                     # two hours of probes, every five minutes
        clock.now += STEP_S
        assert driver.writer_regions() == [PRIMARY]
    restored = driver.restore_region(**injected["recovery"]["args"])   # t = 2 h: the recovery
    assert restored["region"] == PRIMARY
    assert sts.refused == [], f"calls signed with expired credentials: {sts.refused}"
    assumed = [params for _, name, params in sts.calls if name == "AssumeRole"]
    # The role was assumed again before each hour ran out (botocore refreshes 15 minutes ahead), each time for
    # the duration asked: three or more sets over two hours, never one set stretched past its expiry.
    assert len(assumed) >= 3, sts.calls
    assert all(p["DurationSeconds"] == ROLE_SESSION_S and p["RoleArn"] == ROLE for p in assumed)


def test_without_refreshing_the_same_calls_meet_expired_token(world, clock, sts):
    """The simulation bites: credentials assumed once, as the driver did before, expire under a two-hour run."""
    driver = _driver(world, clock, sts)
    frozen = driver._session.get_credentials().get_frozen_credentials()
    fixed = boto3.Session(aws_access_key_id=frozen.access_key, aws_secret_access_key=frozen.secret_key,
                          aws_session_token=frozen.token, botocore_session=botocore.session.get_session())
    sts.check_signing(fixed)
    stale = AwsTarget(driver.profile, session=fixed, clock=clock)
    clock.now += 2 * 3600
    with pytest.raises(Exception, match="ExpiredToken"):
        stale.writer_regions()
    assert sts.refused
