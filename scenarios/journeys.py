"""User journeys over the stack's critical paths (one request each, or a flow of them); `client` is a Locust
FastHttpSession. Each request is sampled on its own (scenarios/recorder.py); a flow is timed once more as a whole by
the locustfile (scenarios/recorder.py JourneyRecorder)."""

from __future__ import annotations

import random
import re
from bisect import bisect
from collections.abc import Callable
from itertools import accumulate

ITEM_IDS = (1, 1000)
ASSET_LINK = re.compile(r"/static/[\w.-]+")
_assets: list[str] = []  # hashed asset paths, learnt from index.html the way a browser learns them
_edge: list[str] = [""]  # the CDN base URL the static journeys load from ("": the host, the entry point)


def set_edge_url(url: str) -> None:
    """Send the static and index journeys to `url` (a CloudFront distribution), not to the entry point."""
    _edge[0] = url.rstrip("/")


def health(client, rng: random.Random, context: dict):
    return client.get("/health", name="GET /health", context=context)


def item(client, rng: random.Random, context: dict):
    return client.get(f"/items/{rng.randint(*ITEM_IDS)}", name="GET /items/[id]", context=context)


def write(client, rng: random.Random, context: dict):
    # Negative sequence numbers: the RPO canary owns the positive range (and max_seq) of the same table.
    return client.post("/writes", json={"seq": -rng.randrange(1, 2**62), "payload": "load"}, name="POST /writes",
                context=context)


def ai(client, rng: random.Random, context: dict):
    return client.post("/ai", json={"prompt": f"summarise item {rng.randint(*ITEM_IDS)}"}, name="POST /ai",
                context=context)


def static(client, rng: random.Random, context: dict):
    if not _assets:
        page = client.get(f"{_edge[0]}/index.html", name="GET /index.html", context=context)
        _assets.extend(sorted(set(ASSET_LINK.findall(page.text or ""))) if page.status_code == 200 else [])
        return page
    return client.get(_edge[0] + rng.choice(_assets), name="GET /static/[asset]", context=context)


def index(client, rng: random.Random, context: dict):
    return client.get(f"{_edge[0]}/index.html", name="GET /index.html", context=context)


JOURNEYS: dict[str, Callable] = {"health": health, "item": item, "write": write, "ai": ai, "static": static,
                                 "index": index}
REQUEST_NAMES = {"health": "GET /health", "item": "GET /items/[id]", "write": "POST /writes", "ai": "POST /ai",
                 "static": "GET /static/[asset]", "index": "GET /index.html"}

# Flows: journeys of several steps, each step one of JOURNEYS above, timed end to end as one unit.
# `critical`: open the app (index.html from the edge), read an item, write, ask the AI.
FLOWS: dict[str, tuple[str, ...]] = {"critical": ("index", "item", "write", "ai")}
REQUEST_NAMES.update({flow: REQUEST_NAMES[steps[0]] for flow, steps in FLOWS.items()})  # a dropped flow's sample
FLOW_STEPS: dict[str, tuple[str, ...]] = {flow: tuple(REQUEST_NAMES[s] for s in steps) for flow, steps in FLOWS.items()}


def step_ok(response) -> bool:
    """Whether Locust counted a step's request as a success: an answer came (status > 0) and Locust set no error on
    it (a connection failure or a status >= 400: FastHttpSession puts either on `response.error`)."""
    return response is not None and getattr(response, "error", None) is None \
        and (getattr(response, "status_code", 0) or 0) > 0


def run_flow(steps: tuple[str, ...], client, rng: random.Random, context: dict) -> tuple[int, bool]:
    """Run a flow's steps in order, each one recorded as its own request; stop at the first that fails.
    `context` (the arrival's `t_intended`) goes to the first step only: a later step starts when the one before it
    ended, so its own latency has no schedule lag; the flow's does (the locustfile times it from the arrival).
    Returns (steps sent, every step succeeded)."""
    for sent, step in enumerate(steps, start=1):
        if not step_ok(JOURNEYS[step](client, rng, context)):
            return sent, False
        context = {}
    return len(steps), True


class Chooser:
    """Weighted choice of a journey from a mix, precomputed so each pick is one bisect."""

    def __init__(self, mix: dict[str, float]):
        chosen = [(name, w) for name, w in mix.items() if w > 0]
        self.names = [name for name, _ in chosen]
        self.bounds = list(accumulate(w for _, w in chosen))
        self.only = self.names[0] if len(self.names) == 1 else None

    def pick(self, rng: random.Random) -> str:
        if self.only is not None:
            return self.only
        return self.names[bisect(self.bounds, rng.random() * self.bounds[-1])]
