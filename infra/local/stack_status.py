"""What `gameday stack status` reports: each component's liveness and health, and each region's behaviour
(writer, instances, active release, AI circuits, cache statistics), asked of the running processes."""

from __future__ import annotations

import redis

from infra.local import postgres
from infra.local.layout import HOST, StackLayout
from infra.local.waiting import http_json, port_accepts


def redis_stats(port: int) -> dict | None:
    """Keyspace hits/misses of the Redis on `port` (the data cache's hit rate), None when unreachable."""
    try:
        with redis.Redis(host=HOST, port=port, socket_timeout=0.5, socket_connect_timeout=0.5) as client:
            info = client.info("stats")
    except (redis.RedisError, OSError):
        return None
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    return {"hits": hits, "misses": misses, "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
            "evicted_keys": info.get("evicted_keys", 0)}


def component_status(component: dict) -> dict:
    """`component` (a state-file entry) plus `alive`, `healthy` and what the process says about itself."""
    entry = dict(component)
    port, kind = entry["port"], entry["kind"]
    entry["healthy"] = False
    if not entry["alive"]:
        return entry
    if kind == "postgres":
        recovery = postgres.in_recovery(port)
        entry["healthy"] = recovery is not None
        if recovery is not None:
            entry["role"] = "standby" if recovery else "primary"
    elif kind == "api":
        health = http_json(f"http://{HOST}:{port}/health")
        entry["healthy"] = health is not None and health[0] == 200
        entry["health"] = health[1] if health else None
        gateway = http_json(f"http://{HOST}:{port}/_region/status")
        entry["gateway"] = gateway[1] if gateway else None
    elif kind == "redis":
        entry["stats"] = redis_stats(port)
        entry["healthy"] = entry["stats"] is not None
    elif kind == "monitor":
        answer = http_json(f"http://{HOST}:{port}/_monitor/status")
        entry["healthy"] = answer is not None and answer[0] == 200
        entry["alarms"] = {name: {k: a[k] for k in ("state", "since_s", "enabled", "reason")}
                           for name, a in answer[1]["alarms"].items()} if entry["healthy"] else None
    elif kind in ("router", "faultproxy", "providers", "origin", "pager"):
        path = {"router": "/_router/status", "faultproxy": "/version"}.get(kind, "/health")
        entry["healthy"] = http_json(f"http://{HOST}:{port}{path}") is not None
    else:
        entry["healthy"] = port_accepts(port)
    return entry


def region_summary(region: str, components: list[dict]) -> dict:
    """One region's behaviour in a line of JSON: DB role, active release, instances, throttles, caches."""
    mine = {c["kind"]: c for c in components if c["region"] == region}
    gateway = (mine.get("api") or {}).get("gateway") or {}
    health = (mine.get("api") or {}).get("health") or {}
    return {
        "db_role": (mine.get("postgres") or {}).get("role"),
        "active_slot": gateway.get("active_slot"),
        "release": gateway.get("release"),
        "instances": gateway.get("instances"),
        "ready_instances": gateway.get("ready_instances"),
        "max_instances": (gateway.get("policy") or {}).get("max_instances"),
        "throttles_total": gateway.get("throttles_total"),
        "ai_circuits": health.get("ai_circuits"),
        "data_cache": (mine.get("redis") or {}).get("stats"),
    }


def stack_status(layout: StackLayout, recorded: list[dict], regions: tuple[str, ...], expected_components: int,
                 stack_dir: str) -> dict:
    components = [component_status(c) for c in recorded]
    writers = [c["region"] for c in components if c["kind"] == "postgres" and c["healthy"] and c["role"] == "primary"]
    routing = http_json(f"{layout.router_url}/_router/status")
    running = any(c["alive"] for c in components)
    return {
        "running": running,
        "healthy": running and len(components) == expected_components and all(c["healthy"] for c in components),
        "writer_region": writers[0] if len(writers) == 1 else None,
        "writer_regions": writers,
        "router_url": layout.router_url,
        "toxiproxy_url": layout.toxiproxy_url,
        "stack_dir": stack_dir,
        "routing": routing[1] if routing else None,
        "edge": (routing[1] or {}).get("edge") if routing else None,
        "regions": {region: region_summary(region, components) for region in regions},
        "alarms": next((c.get("alarms") for c in components if c["kind"] == "monitor"), None),
        "components": components,
    }
