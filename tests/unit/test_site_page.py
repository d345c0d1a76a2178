"""The generated reference page: a hero PNG as its largest element, a button, and the layout-shifting variant."""

from __future__ import annotations

import re
import struct

import pytest

from infra.local.site_page import HERO_HEIGHT, HERO_WIDTH, VARIANTS, build_site
from scenarios.journeys import ASSET_LINK


def _hero(site) -> tuple[str, bytes]:
    (path,) = [p for p in site.assets if p.endswith(".png")]
    return path, site.assets[path].body


def test_the_hero_is_a_png_of_realistic_size_with_its_dimensions_in_the_markup():
    site = build_site("v1")
    path, body = _hero(site)
    assert body[:8] == b"\x89PNG\r\n\x1a\n" and body[12:16] == b"IHDR"
    assert struct.unpack(">II", body[16:24]) == (HERO_WIDTH, HERO_HEIGHT)
    assert 60_000 <= len(body) <= 100_000  # a compressed photo, not a placeholder (and within the edge tests' bound)
    markup = f'src="{path}" alt="This week\'s offer" width="{HERO_WIDTH}" height="{HERO_HEIGHT}"'
    assert markup in site.index.body.decode()
    assert _hero(build_site("v2"))[1] != body


def test_the_load_journeys_learn_every_asset_from_the_index_with_their_regex():
    site = build_site("v1")
    assert sorted(ASSET_LINK.findall(site.index.body.decode())) == sorted(site.assets)


def test_the_variant_changes_only_the_index_and_the_page_script_reads_it_and_the_query():
    normal, shift = build_site("v1"), build_site("v1", "shift")
    assert shift.assets == normal.assets  # same names, same bytes: an edge's cache serves both
    assert b'<body data-variant="shift">' in shift.index.body and b'data-variant="normal"' in normal.index.body
    (app,) = [a.body.decode() for p, a in normal.assets.items() if re.search(r"/app\.\w+\.js$", p)]
    assert 'get("variant") || document.body.dataset.variant' in app and 'getElementById("buy")' in app
    assert b'<button id="buy"' in normal.index.body


def test_an_unknown_variant_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid variants: " + ", ".join(VARIANTS)):
        build_site("v1", "wobbly")
