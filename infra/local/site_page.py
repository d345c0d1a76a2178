"""The generated reference site's content: a shop page with a hero image (its LCP), a button and a late banner.

Pure and deterministic: the same `version` gives the same bytes, so the origins of every region serve one site.
The page: a header with the logo, a 960x320 hero PNG (~80 kB, the largest element: the page's LCP), a heading, a
paragraph and an "Add to basket" button (`#buy`) whose click handler works for ~40 ms before it paints, so the
interaction has a real INP. Variant "shift" (the `data-variant` of `<body>`, or `?variant=shift|normal` in the page
URL, which wins: read by the page's own JS, so it works through the edge, which passes no query string to the
origin): once the hero has painted, late JS inserts a 320 px banner above everything, which moves the whole page
down by 320 px. In a 1280x720 viewport that is one layout shift of about 0.2 (distance 320/1280 = 0.25 times the
share of the viewport that moved), the page's CLS; the normal page does not shift at all.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

HASH_HEX_DIGITS = 8
VARIANTS = ("normal", "shift")
HERO_WIDTH, HERO_HEIGHT = 960, 320
BANNER_HEIGHT_PX = 320
WORK_MS = 40  # what the button's click handler spends before it paints: the interaction's floor
# (stem, extension, content type, approximate size in bytes): a handful of assets of realistic size
ASSET_SPECS = (
    ("app", "js", "application/javascript", 24_000),
    ("vendor", "js", "application/javascript", 64_000),
    ("style", "css", "text/css", 12_000),
    ("logo", "svg", "image/svg+xml", 3_000),
    ("hero", "png", "image/png", 80_000),  # the size is the PNG's noise density's result, not a target
)
_NOISE_BELOW = 10  # of 256: the share of bytes that get grain; sets the PNG's size (~80 kB compressed)

APP_JS = """// The page's behaviour: the basket button (an interaction with real work) and the late banner of "shift".
const variant = new URLSearchParams(location.search).get("variant") || document.body.dataset.variant;
const basket = document.getElementById("basket");
let items = 0;
document.getElementById("buy").addEventListener("click", () => {
  const until = performance.now() + __WORK_MS__;  // pricing, stock check, analytics: busy work
  let spins = 0;
  while (performance.now() < until) spins += 1;
  items += 1;
  basket.textContent = `${items} item(s) in the basket (${spins > 0 ? "priced" : "free"})`;
});
function insertBanner() {
  const banner = document.createElement("div");
  banner.id = "banner";
  banner.className = "banner";
  banner.textContent = "Free shipping on every order today";
  document.body.prepend(banner);
}
if (variant === "shift") {  // after the hero (the LCP) has painted: two frames, then a little later
  const hero = document.querySelector("img.hero");
  const later = () => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(insertBanner, 100)));
  if (hero.complete) later(); else hero.addEventListener("load", later, { once: true });
}
"""

STYLE_CSS = """:root { font-family: system-ui, sans-serif; color: #1d2330; }
body { margin: 0; }
.top { display: flex; align-items: center; gap: 12px; height: 56px; padding: 0 24px; background: #0f2a4a; color: #fff; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 20px; }
.hero { display: block; width: 960px; max-width: 100%; height: auto; }
.banner { height: __BANNER__px; box-sizing: border-box; padding: 24px; background: #ffe9a8; font-size: 18px; }
#buy { font-size: 16px; padding: 8px 16px; }
#basket { min-height: 1.5em; }
"""


@dataclass(frozen=True)
class Asset:
    """One object of the site."""

    path: str
    body: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass(frozen=True)
class Site:
    """The generated site: `index.html` plus the hashed assets it references, by path."""

    version: str
    index: Asset
    assets: dict[str, Asset]
    variant: str = "normal"


def _filler(stem: str, ext: str, version: str, size: int, head: str = "") -> bytes:
    """Deterministic, plausible-looking content of about `size` bytes, after the real `head`."""
    lines = [f"/* {stem}.{ext} - site version {version} */", *head.splitlines()]
    i = 0
    while sum(len(line) + 1 for line in lines) < size:
        if ext == "js":
            lines.append(f"export function {stem}_{i}(x) {{ return (x * {i + 7}) % {i + 13} + '{version}'.length; }}")
        elif ext == "css":
            color = i * 2654435761 % 0xFFFFFF
            lines.append(f".{stem}-{i} {{ margin: {i % 17}px; padding: {i % 5}px {i % 9}px; color: #{color:06x}; }}")
        else:
            lines.append(f'<circle cx="{i % 64}" cy="{i * 7 % 64}" r="{i % 5 + 1}" data-v="{version}"/>')
        i += 1
    if ext == "svg":
        lines = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">', *lines[1:], "</svg>"]
    return ("\n".join(lines) + "\n").encode()


def hero_png(version: str, width: int = HERO_WIDTH, height: int = HERO_HEIGHT) -> bytes:
    """A photo-like RGB PNG: a two-way colour gradient with sparse grain seeded by `version` (no per-pixel loop)."""
    xrow = bytes(v for x in range(width) for v in ((60 + 120 * x // width) & 0xFC, (100 + 60 * x // width) & 0xFC,
                                                    (200 - 80 * x // width) & 0xFC))
    rows = [xrow.translate(bytes(min(252, v + 50 * y // height) & 0xFC for v in range(256))) for y in range(height)]
    base = b"".join(rows)
    grain = hashlib.shake_256(f"hero {version}".encode()).digest(len(base))
    grain = grain.translate(bytes(v & 3 if v < _NOISE_BELOW else 0 for v in range(256)))
    pixels = (int.from_bytes(base) | int.from_bytes(grain)).to_bytes(len(base))  # grain sits in the 2 free low bits
    stride = width * 3
    raw = b"".join(b"\x00" + pixels[i:i + stride] for i in range(0, len(pixels), stride))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tEXt", f"Comment\0site {version}".encode())
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _body(stem: str, ext: str, version: str, size: int) -> bytes:
    if ext == "png":
        return hero_png(version)
    head = {"app": APP_JS.replace("__WORK_MS__", str(WORK_MS)),
            "style": STYLE_CSS.replace("__BANNER__", str(BANNER_HEIGHT_PX))}.get(stem, "")
    return _filler(stem, ext, version, size, head)


def index_html(version: str, variant: str, paths: dict[str, str]) -> str:
    """The page, referencing each asset of `paths` (stem -> path) exactly once."""
    scripts = "\n".join(f'    <script type="module" src="{paths[s]}"></script>' for s in ("vendor", "app"))
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>GameDay reference shop {version}</title>
    <link rel="stylesheet" href="{paths['style']}">
  </head>
  <body data-variant="{variant}">
    <header class="top"><img src="{paths['logo']}" alt="GameDay shop" width="32" height="32"> GameDay shop</header>
    <main id="app" data-version="{version}">
      <img class="hero" src="{paths['hero']}" alt="This week's offer" width="{HERO_WIDTH}" height="{HERO_HEIGHT}">
      <h1>Everything for your next GameDay</h1>
      <p>Load generators, fault proxies and a pager that only rings when it matters.
        Order today, fail over tomorrow.</p>
      <button id="buy" type="button">Add to basket</button>
      <p id="basket" aria-live="polite"></p>
    </main>
{scripts}
  </body>
</html>
"""


def build_site(version: str, variant: str = "normal") -> Site:
    """The site for `version`; the same version gives the same bytes and names everywhere (`variant` changes
    only the index's `data-variant`, never an asset)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown page variant {variant!r}; valid variants: {', '.join(VARIANTS)}")
    assets: dict[str, Asset] = {}
    paths: dict[str, str] = {}
    for stem, ext, content_type, size in ASSET_SPECS:
        body = _body(stem, ext, version, size)
        digest = hashlib.sha256(body).hexdigest()[:HASH_HEX_DIGITS]
        paths[stem] = f"/static/{stem}.{digest}.{ext}"
        assets[paths[stem]] = Asset(paths[stem], body, content_type)
    index = Asset("/index.html", index_html(version, variant, paths).encode(), "text/html; charset=utf-8")
    return Site(version, index, assets, variant)
