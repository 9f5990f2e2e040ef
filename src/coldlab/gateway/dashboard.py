"""`GET /_coldlab/`: the live dashboard, one self-contained page (inline CSS and JS, nothing fetched but the
status JSON beside it, which it polls with `?since=` so each poll carries only the new timeline samples).

The page is `static/dashboard.html`, shipped in the wheel as package data and read once. Its
Content-Security-Policy lets it talk to its own origin only, so a browser refuses any outside fetch.
"""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web

from coldlab.errors import InvalidParameterValue

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@functools.cache
def page_html() -> bytes:
    return resources.files("coldlab.gateway").joinpath("static/dashboard.html").read_bytes()


async def page(request: web.Request) -> web.Response:
    return web.Response(
        body=page_html(),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


async def to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/_coldlab/")  # the page's relative fetch ("status") needs the trailing slash


def since_param(request: web.Request) -> int | None:
    """The status request's `since` (a timeline sequence number), or None; anything else is a 400."""
    raw = request.query.get("since")
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidParameterValue(f"since must be a sequence number (0 or more), not {raw!r}")
    return int(raw)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_coldlab/", page)
    app.router.add_get("/_coldlab", to_page)
