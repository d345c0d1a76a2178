"""User journeys over the stack's critical paths, one request each; `client` is a Locust FastHttpSession."""

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


def health(client, rng: random.Random, context: dict) -> None:
    client.get("/health", name="GET /health", context=context)


def item(client, rng: random.Random, context: dict) -> None:
    client.get(f"/items/{rng.randint(*ITEM_IDS)}", name="GET /items/[id]", context=context)


def write(client, rng: random.Random, context: dict) -> None:
    # Negative sequence numbers: the RPO canary owns the positive range (and max_seq) of the same table.
    client.post("/writes", json={"seq": -rng.randrange(1, 2**62), "payload": "load"}, name="POST /writes",
                context=context)


def ai(client, rng: random.Random, context: dict) -> None:
    client.post("/ai", json={"prompt": f"summarise item {rng.randint(*ITEM_IDS)}"}, name="POST /ai",
                context=context)


def static(client, rng: random.Random, context: dict) -> None:
    if not _assets:
        page = client.get(f"{_edge[0]}/index.html", name="GET /index.html", context=context)
        _assets.extend(sorted(set(ASSET_LINK.findall(page.text or ""))) if page.status_code == 200 else [])
        return
    client.get(_edge[0] + rng.choice(_assets), name="GET /static/[asset]", context=context)


def index(client, rng: random.Random, context: dict) -> None:
    client.get(f"{_edge[0]}/index.html", name="GET /index.html", context=context)


JOURNEYS: dict[str, Callable] = {"health": health, "item": item, "write": write, "ai": ai, "static": static,
                                 "index": index}
REQUEST_NAMES = {"health": "GET /health", "item": "GET /items/[id]", "write": "POST /writes", "ai": "POST /ai",
                 "static": "GET /static/[asset]", "index": "GET /index.html"}


class Chooser:
    """Weighted choice of a journey from a mix, precomputed so each pick is one bisect."""

    def __init__(self, mix: dict[str, float]):
        chosen = [(name, w) for name, w in mix.items() if w > 0]
        self.names = [name for name, _ in chosen]
        self.bounds = list(accumulate(w for _, w in chosen))

    def pick(self, rng: random.Random) -> str:
        if len(self.names) == 1:
            return self.names[0]
        return self.names[bisect(self.bounds, rng.random() * self.bounds[-1])]
