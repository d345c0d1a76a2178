"""Where the local reference stack listens by default; infra.local.layout derives every other port from these."""

DEFAULT_ROUTER_PORT = 8080
DEFAULT_TOXIPROXY_PORT = 8474
DEFAULT_BASE_PORT = 15400
