"""The AI gateway: model providers in priority order behind timeouts, circuit breakers and backoff, cache last.

    gateway = AIGateway([("bedrock", "http://127.0.0.1:15433"), ("google", ...), ("meta", ...)])
    status, body, headers = await gateway.generate("hello")      # first success, else a fast answer
    app = Starlette(routes=ai_routes(gateway), lifespan=...)     # POST /ai, GET /ai/status; close() on exit

A provider failure is a connection error, a timeout, a 429, a 5xx or an unusable answer (other status,
not JSON). Every answer names its source in `X-AI-Provider` (a provider name or `cache`) and says in
`X-AI-Fallback` whether it came from the first-priority provider (`none`), another one (`provider`)
or, when every provider failed or was skipped, the cache (`cache`: status 200, `"degraded": true`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gameday.base.errors import InvalidInput
from infra.local.circuit import BreakerState, CircuitBreaker, backoff_delay_s

PROVIDER_HEADER = "X-AI-Provider"
FALLBACK_HEADER = "X-AI-Fallback"
CACHE_SOURCE = "cache"
FAILURE_KINDS = ("timeout", "connect", "429", "5xx", "bad_response")
MAX_PROMPT_CHARS = 32_000
CANNED_TEXT = ("Our assistant is briefly unavailable. This is a general answer; "
               "please try again in a moment for a full reply.")


class ProviderFailure(Exception):
    """One provider call that failed; `kind` is one of FAILURE_KINDS."""

    def __init__(self, provider: str, kind: str, detail: str):
        super().__init__(f"call of provider {provider!r} failed ({kind}): {detail}")
        self.provider, self.kind, self.detail = provider, kind, detail


@dataclass
class ProviderCounters:
    """What happened to one provider since the gateway started."""

    requests: int = 0
    successes: int = 0
    failures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAILURE_KINDS, 0))
    fallback_answers: int = 0  # answers it gave while a higher-priority provider failed or was skipped
    skipped_open: int = 0      # requests that passed it by because its breaker was open

    def as_dict(self) -> dict:
        return {"requests": self.requests, "successes": self.successes, "failures": dict(self.failures),
                "fallback_answers": self.fallback_answers, "skipped_open": self.skipped_open}


def validate_prompt(prompt: object) -> str:
    """The prompt if usable; InvalidInput saying what a valid one is otherwise."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput(f'prompt must be a non-empty string, got {type(prompt).__name__} {prompt!r:.40}',
                           hint='send JSON {"prompt": "your question"}')
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInput(f"prompt has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
    return prompt


class AIGateway:
    """Routes one prompt across providers (priority = list order); one shared keep-alive HTTP session."""

    def __init__(self, providers: list[tuple[str, str]], *, timeout_s: float = 1.0, failure_threshold: int = 3,
                 cool_down_s: float = 5.0, backoff_base_s: float = 0.02, backoff_cap_s: float = 0.2,
                 backoff_factor: float = 2.0, backoff_jitter: float = 0.5, cache_size: int = 1000,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        if not providers:
            raise InvalidInput("the AI gateway needs at least one provider (name, base_url)")
        names = [name for name, _ in providers]
        for name, url in providers:
            if names.count(name) > 1:
                raise InvalidInput(f"provider {name!r} is listed twice; providers: {', '.join(names)}")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise InvalidInput(f"base URL of provider {name!r} must start with http:// or https://, not {url!r}")
        if not timeout_s > 0 or cache_size < 0:
            raise InvalidInput(f"timeout_s must be > 0 and cache_size >= 0; got {timeout_s!r}, {cache_size!r}")
        backoff_delay_s(0, base_s=backoff_base_s, factor=backoff_factor, cap_s=backoff_cap_s,
                        jitter=backoff_jitter, rng=random.Random(0))  # validates the backoff settings now
        self.providers = [(name, url.rstrip("/")) for name, url in providers]
        self.timeout_s = timeout_s
        self.backoff = {"base_s": backoff_base_s, "factor": backoff_factor, "cap_s": backoff_cap_s,
                        "jitter": backoff_jitter}
        self.cache_size = cache_size
        self.clock = clock
        self.rng = rng or random.Random()
        self.breakers = {name: CircuitBreaker(name, failure_threshold=failure_threshold, cool_down_s=cool_down_s)
                         for name in names}
        self.counters = {name: ProviderCounters() for name in names}
        self.totals = {"requests": 0, "fallbacks": 0, "cache_answers": 0, "canned_answers": 0}
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self._session: aiohttp.ClientSession | None = None

    # --- HTTP session ----------------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        """The shared session, created on first use inside the running loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
                cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def close(self) -> None:
        """Close the shared HTTP session (idempotent; a later call opens a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, name: str, url: str, prompt: str) -> dict:
        """One provider call; ProviderFailure (naming the provider and the kind) on any failure."""
        try:
            async with self._http().post(f"{url}/generate", json={"prompt": prompt}) as resp:
                raw = await resp.read()  # read even error bodies, so the keep-alive connection is reused
                if resp.status == 429:
                    raise ProviderFailure(name, "429", "HTTP 429 Too Many Requests")
                if resp.status >= 500:
                    raise ProviderFailure(name, "5xx", f"HTTP {resp.status}")
                if resp.status != 200:
                    raise ProviderFailure(name, "bad_response", f"HTTP {resp.status}: {raw[:200]!r}")
                body = await resp.json(content_type=None)
        except TimeoutError:
            raise ProviderFailure(name, "timeout", f"no answer within {self.timeout_s:g} s") from None
        except ValueError as exc:  # invalid JSON (aiohttp's ContentTypeError is a ValueError too)
            raise ProviderFailure(name, "bad_response", f"body is not JSON: {exc}") from None
        except (aiohttp.ClientError, OSError) as exc:  # refused, reset, cut mid-answer
            raise ProviderFailure(name, "connect", f"{type(exc).__name__}: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise ProviderFailure(name, "bad_response", f'answer lacks a string "text": {str(body)[:200]}')
        return body

    # --- routing ---------------------------------------------------------------------------------
    async def generate(self, prompt: str) -> tuple[int, dict, dict[str, str]]:
        """(status, body, headers) of the first provider that answers, else of the fast answer."""
        prompt = validate_prompt(prompt)
        self.totals["requests"] += 1
        passed_over: list[dict] = []  # providers that failed or were skipped before the answer, and why
        failed = 0
        for priority, (name, url) in enumerate(self.providers):
            breaker, counters = self.breakers[name], self.counters[name]
            if not breaker.allow(self.clock()):
                counters.skipped_open += 1
                passed_over.append({"provider": name, "outcome": "skipped",
                                    "reason": f"circuit {breaker.state.value}"})
                continue
            if failed:
                await asyncio.sleep(backoff_delay_s(failed - 1, rng=self.rng, **self.backoff))
            counters.requests += 1
            try:
                body = await self._call(name, url, prompt)
            except ProviderFailure as failure:
                failed += 1
                counters.failures[failure.kind] += 1
                breaker.record_failure(self.clock(), failure.kind)
                passed_over.append({"provider": name, "outcome": failure.kind, "detail": failure.detail})
                continue
            breaker.record_success(self.clock())
            counters.successes += 1
            if priority:
                counters.fallback_answers += 1
                self.totals["fallbacks"] += 1
            self._remember(prompt, name, body["text"])
            answer = {**body, "provider": name, "degraded": False, "passed_over": passed_over}
            return 200, answer, {PROVIDER_HEADER: name, FALLBACK_HEADER: "provider" if priority else "none"}
        return self._fast_answer(prompt, passed_over)

    def _remember(self, prompt: str, provider: str, text: str) -> None:
        if self.cache_size == 0:
            return
        self._cache[prompt] = {"text": text, "from": provider, "at_s": self.clock()}
        self._cache.move_to_end(prompt)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _fast_answer(self, prompt: str, passed_over: list[dict]) -> tuple[int, dict, dict[str, str]]:
        """The last good answer to this prompt, else the canned one; always 200 and marked degraded."""
        self.totals["cache_answers"] += 1
        hit = self._cache.get(prompt)
        if hit is not None:
            self._cache.move_to_end(prompt)
            body = {"provider": CACHE_SOURCE, "text": hit["text"], "source": "cache", "cached_from": hit["from"],
                    "cached_at_s": hit["at_s"]}
        else:
            self.totals["canned_answers"] += 1
            body = {"provider": CACHE_SOURCE, "text": CANNED_TEXT, "source": "canned", "cached_from": None,
                    "cached_at_s": None}
        body.update(degraded=True, passed_over=passed_over)
        return 200, body, {PROVIDER_HEADER: CACHE_SOURCE, FALLBACK_HEADER: CACHE_SOURCE}

    # --- status ----------------------------------------------------------------------------------
    def breaker_states(self) -> dict[str, str]:
        """Provider name -> breaker state (`closed`, `open`, `half_open`), in priority order."""
        return {name: self.breakers[name].state.value for name, _ in self.providers}

    def status(self) -> dict:
        """Breakers, counters and settings as JSON-able data (for `gameday stack status` and /ai/status)."""
        providers = []
        for priority, (name, url) in enumerate(self.providers):
            breaker = self.breakers[name].as_dict()
            retry_at = (breaker["opened_at_s"] + breaker["cool_down_s"]
                        if self.breakers[name].state is BreakerState.OPEN else None)
            providers.append({"name": name, "url": url, "priority": priority, "state": breaker["state"],
                              "consecutive_failures": breaker["consecutive_failures"],
                              "opened_at_s": breaker["opened_at_s"], "probe_at_s": retry_at,
                              **self.counters[name].as_dict(), "transitions": breaker["transitions"]})
        return {"providers": providers, "totals": dict(self.totals), "cached_prompts": len(self._cache),
                "settings": {"timeout_s": self.timeout_s, "backoff": self.backoff, "cache_size": self.cache_size,
                             "failure_threshold": next(iter(self.breakers.values())).failure_threshold,
                             "cool_down_s": next(iter(self.breakers.values())).cool_down_s}}


def ai_routes(gateway: AIGateway) -> list[Route]:
    """`POST /ai` {"prompt": str} -> the gateway's answer; `GET /ai/status` -> `gateway.status()`."""

    async def ai(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": 'body must be JSON {"prompt": "..."}: it is not valid JSON'}, 400)
        if not isinstance(body, dict) or "prompt" not in body:
            return JSONResponse({"error": 'body must be a JSON object {"prompt": "..."}; "prompt" is missing'}, 400)
        try:
            status, answer, headers = await gateway.generate(body["prompt"])
        except InvalidInput as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(answer, status_code=status, headers=headers)

    async def ai_status(request: Request) -> JSONResponse:
        return JSONResponse(gateway.status())

    return [Route("/ai", ai, methods=["POST"]), Route("/ai/status", ai_status, methods=["GET"])]
