"""Names, regions and ports of one local reference stack, all derived from a few numbers.

Every component of the stack listens on 127.0.0.1. Regions are separated by port, not by
address (other 127.x addresses do not bind on macOS without aliases).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gameday.base.ports import DEFAULT_BASE_PORT, DEFAULT_ROUTER_PORT, DEFAULT_TOXIPROXY_PORT

PRIMARY_REGION = "eu-central-1"
SECONDARY_REGION = "eu-west-1"
REGIONS = (PRIMARY_REGION, SECONDARY_REGION)
PROVIDERS = ("bedrock", "google", "meta")
"""AI model providers in the gateway's priority order."""
SLOTS = ("blue", "green")
INSTANCES_PER_SLOT = 10
HOST = "127.0.0.1"

SPAN = 80
"""Ports one `StackLayout.from_base(base)` uses: base .. base+SPAN-1."""


class Protocol(StrEnum):
    """What a fault-proxy link carries: raw TCP, or HTTP/1.1 (enables per-request HTTP faults)."""

    TCP = "tcp"
    HTTP = "http"


@dataclass(frozen=True)
class Link:
    """One fault-proxy link: clients connect to `listen_port`, the proxy forwards to `upstream_port`."""

    name: str
    listen_port: int
    upstream_port: int
    protocol: Protocol = Protocol.TCP

    @property
    def listen(self) -> str:
        return f"{HOST}:{self.listen_port}"

    @property
    def upstream(self) -> str:
        return f"{HOST}:{self.upstream_port}"

    def as_toxiproxy(self) -> dict:
        """The proxy as Toxiproxy's config file and `POST /populate` describe it (plus `protocol`)."""
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": True, "protocol": self.protocol.value}


def router_link(region: str) -> str:
    """Name of the link from the global router to `region`'s API."""
    return f"router-{region}"


def db_link(region: str) -> str:
    """Name of the link from `region`'s API to its PostgreSQL."""
    return f"db-{region}"


def cache_link(region: str) -> str:
    """Name of the link from `region`'s API to its Redis."""
    return f"cache-{region}"


def provider_link(provider: str) -> str:
    """Name of the link from the APIs to an AI provider (shared by both regions, like a SaaS endpoint)."""
    return f"provider-{provider}"


def origin_link(region: str) -> str:
    """Name of the link from the edge cache (router) to `region`'s static-asset origin (the S3 bucket)."""
    return f"origin-{region}"


REPLICATION_LINK = "replication"
"""Name of the inter-region link the standby streams WAL over (standby -> primary)."""


@dataclass(frozen=True)
class StackLayout:
    """Ports of one stack. Two stacks with non-overlapping layouts can run side by side."""

    router_port: int = DEFAULT_ROUTER_PORT
    toxiproxy_port: int = DEFAULT_TOXIPROXY_PORT
    base_port: int = DEFAULT_BASE_PORT

    @classmethod
    def from_base(cls, base: int) -> StackLayout:
        """A layout using ports base .. base+SPAN-1 only (router = base, Toxiproxy API = base+1)."""
        return cls(router_port=base, toxiproxy_port=base + 1, base_port=base + 10)

    def _index(self, region: str) -> int:
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; valid regions: {', '.join(REGIONS)}")
        return REGIONS.index(region)

    def pg_port(self, region: str) -> int:
        return self.base_port + self._index(region)

    def redis_port(self, region: str) -> int:
        return self.base_port + 2 + self._index(region)

    def app_port(self, region: str) -> int:
        """The region's API entry point (its gateway: load balancer, autoscaler, blue/green slots)."""
        return self.base_port + 4 + self._index(region)

    def provider_port(self, provider: str) -> int:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; valid providers: {', '.join(PROVIDERS)}")
        return self.base_port + 6 + PROVIDERS.index(provider)

    def origin_port(self, region: str) -> int:
        return self.base_port + 24 + self._index(region)

    @property
    def monitor_port(self) -> int:
        """The monitoring (CloudWatch stand-in: infra/local/monitor.py)."""
        return self.base_port + 26

    @property
    def pager_port(self) -> int:
        """The notification sink (Slack / pager stand-in: infra/local/pager.py)."""
        return self.base_port + 27

    @property
    def monitor_url(self) -> str:
        return f"http://{HOST}:{self.monitor_port}"

    @property
    def pager_url(self) -> str:
        return f"http://{HOST}:{self.pager_port}"

    def instance_ports(self, region: str, slot: str) -> list[int]:
        """Ports the region's API instances of `slot` may use (one per instance, up to INSTANCES_PER_SLOT)."""
        if slot not in SLOTS:
            raise ValueError(f"unknown slot {slot!r}; valid slots: {', '.join(SLOTS)}")
        first = (self.base_port + 30 + self._index(region) * 2 * INSTANCES_PER_SLOT
                 + SLOTS.index(slot) * INSTANCES_PER_SLOT)
        return list(range(first, first + INSTANCES_PER_SLOT))

    def links(self) -> list[Link]:
        """Every fault-proxy link of the stack, in a fixed order."""
        out: list[Link] = []
        for i, region in enumerate(REGIONS):
            out.append(Link(router_link(region), self.base_port + 10 + i, self.app_port(region), Protocol.HTTP))
            out.append(Link(db_link(region), self.base_port + 12 + i, self.pg_port(region)))
            out.append(Link(cache_link(region), self.base_port + 14 + i, self.redis_port(region)))
        out.append(Link(REPLICATION_LINK, self.base_port + 16, self.pg_port(PRIMARY_REGION)))
        for i, provider in enumerate(PROVIDERS):
            out.append(Link(provider_link(provider), self.base_port + 17 + i, self.provider_port(provider),
                            Protocol.HTTP))
        for i, region in enumerate(REGIONS):
            out.append(Link(origin_link(region), self.base_port + 20 + i, self.origin_port(region), Protocol.HTTP))
        return out

    def link(self, name: str) -> Link:
        for link in self.links():
            if link.name == name:
                return link
        valid = ", ".join(link.name for link in self.links())
        raise ValueError(f"unknown link {name!r}; valid links: {valid}")

    @property
    def router_url(self) -> str:
        return f"http://{HOST}:{self.router_port}"

    @property
    def toxiproxy_url(self) -> str:
        return f"http://{HOST}:{self.toxiproxy_port}"

    def all_ports(self) -> list[int]:
        """Every port the stack listens on (checked free before start)."""
        ports = {self.router_port, self.toxiproxy_port, self.monitor_port, self.pager_port}
        for region in REGIONS:
            ports |= {self.pg_port(region), self.redis_port(region), self.app_port(region), self.origin_port(region)}
            for slot in SLOTS:
                ports |= set(self.instance_ports(region, slot))
        ports |= {self.provider_port(p) for p in PROVIDERS}
        ports |= {link.listen_port for link in self.links()}
        return sorted(ports)
