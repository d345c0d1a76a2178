"""Port layout of a stack: every port distinct, inside its block, links pointing at real components."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.layout import PRIMARY_REGION, PROVIDERS, REGIONS, REPLICATION_LINK, SLOTS, SPAN, StackLayout


@given(st.integers(min_value=1024, max_value=65000 - SPAN))
def test_a_based_layout_uses_distinct_ports_inside_its_block(base: int):
    layout = StackLayout.from_base(base)
    ports = layout.all_ports()
    listeners = [layout.router_port, layout.toxiproxy_port, layout.monitor_port, layout.pager_port]
    listeners += [link.listen_port for link in layout.links()]
    listeners += [f(r) for r in REGIONS for f in (layout.pg_port, layout.redis_port, layout.app_port,
                                                   layout.origin_port)]
    listeners += [layout.provider_port(p) for p in PROVIDERS]
    listeners += [port for r in REGIONS for s in SLOTS for port in layout.instance_ports(r, s)]
    assert len(listeners) == len(set(listeners)) == len(ports)
    assert min(ports) == base and max(ports) < base + SPAN


def test_layouts_of_adjacent_blocks_do_not_overlap():
    assert not set(StackLayout.from_base(20000).all_ports()) & set(StackLayout.from_base(20000 + SPAN).all_ports())


def test_every_link_forwards_to_a_component_port():
    layout = StackLayout()
    components = {f(r) for r in REGIONS for f in (layout.pg_port, layout.redis_port, layout.app_port,
                                                   layout.origin_port)}
    components |= {layout.provider_port(p) for p in PROVIDERS}
    for link in layout.links():
        assert link.upstream_port in components
    assert layout.link(REPLICATION_LINK).upstream_port == layout.pg_port(PRIMARY_REGION)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid regions: eu-central-1, eu-west-1"):
        StackLayout().pg_port("us-east-1")
    with pytest.raises(ValueError, match="valid links: router-eu-central-1"):
        StackLayout().link("nope")
