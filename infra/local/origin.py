"""The static-site origin (the S3 bucket stand-in): a small generated site with content-hashed assets.

    python -m infra.local.origin --host 127.0.0.1 --port 15430 --region eu-central-1 [--version v1]

Serves `GET|HEAD /index.html` (and `/`), which references the hashed assets, `/static/<name>.<hash>.<ext>`
(hash = the first 8 hex digits of the body's SHA-256), `GET /health` and `GET /_origin/stats` (requests
served per path). Unknown paths get 404. Every response carries `X-Origin-Region`. The site depends on
`--version` only, so origins in different regions serve the same bytes (a replicated bucket).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from collections import Counter
from dataclasses import dataclass

from aiohttp import web

from infra.local.layout import HOST
from infra.local.serving import serve_until_signal

REGION_HEADER = "X-Origin-Region"
HASH_HEX_DIGITS = 8
# (stem, extension, content type, approximate size in bytes): a handful of assets of realistic size
ASSET_SPECS = (
    ("app", "js", "application/javascript", 24_000),
    ("vendor", "js", "application/javascript", 64_000),
    ("style", "css", "text/css", 12_000),
    ("logo", "svg", "image/svg+xml", 3_000),
)


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


def _filler(stem: str, ext: str, version: str, size: int) -> bytes:
    """Deterministic, plausible-looking content of about `size` bytes."""
    lines = [f"/* {stem}.{ext} - site version {version} */"]
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


def build_site(version: str) -> Site:
    """The site for `version`; the same version gives the same bytes and names everywhere."""
    assets: dict[str, Asset] = {}
    for stem, ext, content_type, size in ASSET_SPECS:
        body = _filler(stem, ext, version, size)
        digest = hashlib.sha256(body).hexdigest()[:HASH_HEX_DIGITS]
        path = f"/static/{stem}.{digest}.{ext}"
        assets[path] = Asset(path, body, content_type)
    links = "\n".join(f'    <link rel="stylesheet" href="{p}">' for p in assets if p.endswith(".css"))
    scripts = "\n".join(f'    <script type="module" src="{p}"></script>' for p in assets if p.endswith(".js"))
    images = "\n".join(f'    <img src="{p}" alt="logo">' for p in assets if p.endswith(".svg"))
    html = (f"<!doctype html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\">\n"
            f"    <title>GameDay reference site {version}</title>\n{links}\n  </head>\n  <body>\n{images}\n"
            f"    <main id=\"app\" data-version=\"{version}\"></main>\n{scripts}\n  </body>\n</html>\n")
    index = Asset("/index.html", html.encode(), "text/html; charset=utf-8")
    return Site(version, index, assets)


class Origin:
    """The origin's request handlers over one generated site."""

    def __init__(self, region: str, site: Site):
        self.region = region
        self.site = site
        self.served: Counter[str] = Counter()

    def _headers(self, **extra: str) -> dict[str, str]:
        return {REGION_HEADER: self.region, **extra}

    async def obj(self, request: web.Request) -> web.Response:
        path = "/index.html" if request.path == "/" else request.path
        asset = self.site.index if path == "/index.html" else self.site.assets.get(path)
        self.served[path] += 1
        if asset is None:
            return web.json_response({"error": f"no object {path!r} in the site of version {self.site.version}",
                                      "region": self.region}, status=404, headers=self._headers())
        # S3 object metadata as a deploy pipeline would set it; the edge applies its own policy anyway.
        control = "no-store" if asset is self.site.index else "max-age=31536000, immutable"
        return web.Response(body=asset.body, headers=self._headers(**{
            "Content-Type": asset.content_type, "ETag": asset.etag, "Cache-Control": control}))

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "region": self.region, "version": self.site.version},
                                 headers=self._headers())

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"region": self.region, "version": self.site.version,
                                  "requests": dict(self.served), "total": sum(self.served.values())},
                                 headers=self._headers())


def build_app(origin: Origin) -> web.Application:
    app = web.Application()
    app.router.add_get("/health", origin.health)
    app.router.add_get("/_origin/stats", origin.stats)
    app.router.add_get("/{tail:.*}", origin.obj)  # GET routes answer HEAD too
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m infra.local.origin", description=__doc__.splitlines()[0])
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--region", required=True, help="the region this origin stands in for (X-Origin-Region)")
    p.add_argument("--version", default="v1", help="site version: changes the content and so the asset hashes")
    args = p.parse_args(argv)
    if not args.region.strip() or not args.version.strip():
        p.error("--region and --version must not be empty")
    return args


async def serve(args: argparse.Namespace) -> None:
    origin = Origin(args.region, build_site(args.version))
    await serve_until_signal(build_app(origin), args.host, args.port, on_listening=lambda: print(
        f"origin: {args.region} serving site {args.version} ({len(origin.site.assets)} assets) on "
        f"http://{args.host}:{args.port}", file=sys.stderr, flush=True))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        print(f"origin: start of {args.region} on {args.host}:{args.port} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
