"""The user journeys: with a CDN URL (an AWS profile's endpoints.cdn_url) the static and index journeys load from
it, the API journeys stay on the entry point."""

from __future__ import annotations

import random

import pytest

from gameday.base.errors import InvalidInput
from gameday.load import LoadSpec, locust_command
from scenarios import journeys
from scenarios.profiles import load_profile


class Page:
    def __init__(self, text: str = "", status_code: int = 200):
        self.text, self.status_code = text, status_code


class RecordingClient:
    """Answers every GET with an index page naming two hashed assets; keeps the URLs asked for."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def get(self, url: str, **_kw) -> Page:
        self.urls.append(url)
        return Page('<script src="/static/app.3f9a.js"></script><link href="/static/app.77c1.css">')

    def post(self, url: str, **_kw) -> Page:
        self.urls.append(url)
        return Page()


@pytest.fixture
def edge():
    journeys._assets.clear()
    journeys.set_edge_url("https://d111111abcdef8.cloudfront.net/")
    yield "https://d111111abcdef8.cloudfront.net"
    journeys.set_edge_url("")
    journeys._assets.clear()


def test_with_a_cdn_the_static_journeys_load_from_it_and_the_api_stays_on_the_entry_point(edge):
    client, rng = RecordingClient(), random.Random(1)
    for name in ("static", "static", "index", "item", "health", "write"):
        journeys.JOURNEYS[name](client, rng, {})
    static, api = client.urls[:3], client.urls[3:]
    assert static[0] == f"{edge}/index.html"                     # the asset list, learnt from the CDN's index
    assert static[1] in (f"{edge}/static/app.3f9a.js", f"{edge}/static/app.77c1.css")
    assert static[2] == f"{edge}/index.html"
    assert all(url.startswith("/") for url in api), api          # relative: Locust's --host, the entry point


def test_without_a_cdn_every_journey_goes_to_the_entry_point():
    journeys._assets.clear()
    client = RecordingClient()
    for name in ("static", "static", "index"):
        journeys.JOURNEYS[name](client, random.Random(2), {})
    assert all(url.startswith("/") for url in client.urls), client.urls


def test_the_load_command_hands_the_cdn_to_locust_and_refuses_a_url_that_is_none(tmp_path):
    profile = load_profile("steady")
    spec = LoadSpec(profile=profile, target="https://api.example.com", out_dir=tmp_path,
                    edge_url="https://d111111abcdef8.cloudfront.net")
    argv = locust_command(spec)
    assert argv[argv.index("--gameday-edge-url") + 1] == "https://d111111abcdef8.cloudfront.net"
    assert "--gameday-edge-url" not in locust_command(LoadSpec(profile=profile, target="http://127.0.0.1:8080",
                                                               out_dir=tmp_path))
    with pytest.raises(InvalidInput, match="edge URL"):
        LoadSpec(profile=profile, target="https://api.example.com", out_dir=tmp_path, edge_url="cdn.example.com")
