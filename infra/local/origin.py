"""The static-site origin (the S3 bucket stand-in): a small generated site with content-hashed assets.

    python -m infra.local.origin --host 127.0.0.1 --port 15430 --region eu-central-1 [--version v1]
        [--page-variant normal|shift]

Serves `GET|HEAD /index.html` (and `/`), which references the hashed assets, `/static/<name>.<hash>.<ext>`
(hash = the first 8 hex digits of the body's SHA-256), `GET /health` and `GET /_origin/stats` (requests
served per path). Unknown paths get 404. Every response carries `X-Origin-Region`. The site depends on
`--version` (and the index on `--page-variant`) only, so origins in different regions serve the same bytes (a
replicated bucket). What the page is (hero image as LCP, a button for INP, the layout-shifting variant):
`infra.local.site_page`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter

from aiohttp import web

from infra.local.layout import HOST
from infra.local.serving import serve_until_signal
from infra.local.site_page import ASSET_SPECS, VARIANTS, Asset, Site, build_site

__all__ = ["ASSET_SPECS", "REGION_HEADER", "Asset", "Origin", "Site", "build_app", "build_site", "main"]

REGION_HEADER = "X-Origin-Region"


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
    p.add_argument("--page-variant", choices=VARIANTS, default="normal",
                   help="the page's default variant: 'shift' adds a late banner that shifts the layout (CLS ~0.2); "
                        "a page URL's ?variant=shift|normal overrides it in the browser")
    args = p.parse_args(argv)
    if not args.region.strip() or not args.version.strip():
        p.error("--region and --version must not be empty")
    return args


async def serve(args: argparse.Namespace) -> None:
    origin = Origin(args.region, build_site(args.version, args.page_variant))
    await serve_until_signal(build_app(origin), args.host, args.port, on_listening=lambda: print(
        f"origin: {args.region} serving site {args.version} ({args.page_variant} page, {len(origin.site.assets)} "
        f"assets) on "
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
