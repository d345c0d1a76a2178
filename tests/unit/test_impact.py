"""probes.impact: the first sign of a fault through a real HTTP server on loopback (no mocks): a failing answer,
an answer from another region, or none at all; and the timeout when the fault never bites."""

from __future__ import annotations

import pytest

from probes.impact import first_impact
from tests.support import LoopbackHTTP


class Entry(LoopbackHTTP):
    """An entry point whose answers the test scripts: (status, region) per read, the last one repeated."""

    def __init__(self, answers: list[tuple[int, str]]):
        def answer(method, path, body):
            status, region = answers[min(len(self.requests) - 1, len(answers) - 1)]
            return status, {"X-Region": region}
        super().__init__(answer)
        self.url += "/health"

    @property
    def reads(self) -> int:
        return len(self.requests)


@pytest.fixture
def entry(request):
    server = Entry(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("entry", [[(200, "eu-central-1")] * 3 + [(503, "eu-central-1")]], indirect=True)
def test_the_first_failing_answer_is_the_impact(entry):
    seen = first_impact(entry.url, "eu-central-1", timeout_s=10, interval_s=0.01)
    assert seen["observed"] and seen["how"] == "HTTP 503" and seen["reads"] == 4 == entry.reads


@pytest.mark.parametrize("entry", [[(200, "eu-central-1")] * 2 + [(200, "eu-west-1")]], indirect=True)
def test_an_answer_from_another_region_is_the_impact_of_a_dns_failover(entry):
    seen = first_impact(entry.url, "eu-central-1", timeout_s=10, interval_s=0.01)
    assert seen["observed"] and seen["how"] == "answered by eu-west-1 instead of eu-central-1" and seen["reads"] == 3


@pytest.mark.parametrize("entry", [[(200, "eu-west-1")]], indirect=True)
def test_without_a_served_region_only_failures_count(entry):
    seen = first_impact(entry.url, None, timeout_s=0.3, interval_s=0.05)
    assert not seen["observed"] and seen["how"] == "no impact within 0.3 s"
    assert seen["after_s"] >= 0.3 and seen["reads"] >= 2


def test_a_refused_connection_is_an_impact():
    server = Entry([(200, "eu-central-1")])
    url = server.url
    server.close()
    seen = first_impact(url, "eu-central-1", timeout_s=5, interval_s=0.01)
    assert seen["observed"] and "ConnectError" in seen["how"] and seen["reads"] == 1
