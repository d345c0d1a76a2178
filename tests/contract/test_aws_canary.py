"""RPO on AWS: the surviving canary writes are read back from the final writer through the profile's canary
endpoint (a real HTTP server on loopback stands in for the stack's canary Lambda), and counted only when the
endpoint read from the one writer the RDS API shows."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from infra.targets.aws import AwsTarget
from infra.targets.aws_canary import surviving_canary_writes
from infra.targets.profile import profile_from_dict
from tests.contract.aws_behaviour import GlobalDatabase
from tests.contract.conftest import PRIMARY, SECONDARY, profile_dict, session


class CanaryEndpoint:
    """Answers GET ?since_seq=N with the rows it holds from N on, read (it says) from `region`."""

    def __init__(self, rows: list[int], region: str, failures: int = 0):
        self.rows, self.region, self.failures, self.asked = rows, region, failures, []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                since = int(parse_qs(urlparse(self.path).query)["since_seq"][0])
                endpoint.asked.append(since)
                if endpoint.failures > 0:
                    endpoint.failures -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({"writer_region": endpoint.region,
                                   "seqs": [s for s in endpoint.rows if s >= since]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/canary"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    found = CanaryEndpoint(rows=[1000, 1001, 1003, 1004], region=PRIMARY)
    yield found
    found.close()


def _driver(world, canary_url: str | None, writer: str = PRIMARY) -> AwsTarget:
    data = profile_dict(world, endpoints={"entry_url": "https://api.example.com", "canary_url": canary_url})
    driver = AwsTarget(profile_from_dict(data), session=session())
    db = GlobalDatabase(clusters={PRIMARY: "app-primary", SECONDARY: "app-secondary"}, writer=writer,
                        instances={PRIMARY: ["app-primary-1"], SECONDARY: ["app-secondary-1"]})
    for region in (PRIMARY, SECONDARY):
        db.attach(driver.client("rds", region), region)
    return driver


def test_the_final_writers_canary_rows_are_read_back_through_the_endpoint(world, endpoint):
    got = _driver(world, endpoint.url).surviving_writes(1001)
    assert got == {"seqs": [1001, 1003, 1004], "writer_region": PRIMARY}
    assert endpoint.asked == [1001]


def test_an_answer_from_another_region_than_the_writer_leaves_the_rpo_unknown(world, endpoint):
    got = _driver(world, endpoint.url, writer=SECONDARY).surviving_writes(1000)
    assert got["writer_region"] is None and got["seqs"] == []
    assert "read from eu-central-1, but the writer is eu-west-1" in got["note"]


def test_a_failing_endpoint_is_retried_then_leaves_the_rpo_unknown(world):
    flaky = CanaryEndpoint(rows=[7], region=PRIMARY, failures=2)
    try:
        assert surviving_canary_writes(flaky.url, 0, [PRIMARY], sleep=lambda s: None) == \
            {"seqs": [7], "writer_region": PRIMARY}
        flaky.failures = 5
        got = surviving_canary_writes(flaky.url, 0, [PRIMARY], sleep=lambda s: None)
        assert got["writer_region"] is None and "503" in got["note"]
    finally:
        flaky.close()


def test_without_a_canary_endpoint_the_rpo_is_not_measured(world):
    driver = _driver(world, None)
    assert driver.surviving_writes(0) is None
    sources = driver.sampler_sources()
    assert sources.canary_url is None and sources.fresh_connections is True


def test_the_samplers_write_the_canary_to_the_endpoint_with_a_connection_per_probe(world, endpoint):
    sources = _driver(world, endpoint.url).sampler_sources()
    assert sources.canary_url == endpoint.url and sources.fresh_connections is True
