"""The explorer's static site as an aiohttp sub-application.

The pages are plain ES modules and CSS with no build step; index.html names where they send JSON-RPC and open
the WebSocket (the node's own endpoint when the node serves them, the proxy's when ``pysei explorer`` does).
"""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/explorer/"


def explorer_app(rpc_url: str, ws_url: str) -> web.Application:
    """The site; ``rpc_url``/``ws_url`` are paths on the serving origin (resolved by the page against it)."""
    app = web.Application()
    page = (STATIC / "index.html").read_text().format(rpc=html.escape(rpc_url), ws=html.escape(ws_url))

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app.router.add_get("/", index)
    app.router.add_static("/", STATIC, append_version=False)
    app.on_response_prepare.append(_security_headers)
    return app


def mount_explorer(app: web.Application, rpc_url: str, ws_url: str) -> None:
    """Serves the explorer at /explorer/ on ``app`` (and /explorer redirects there, so relative URLs resolve)."""

    async def redirect(_: web.Request) -> web.Response:
        raise web.HTTPFound(PREFIX)

    app.router.add_get(PREFIX.rstrip("/"), redirect)
    app.add_subapp(PREFIX, explorer_app(rpc_url, ws_url))


# Everything the pages load is served from this origin; the policy makes that a rule the browser enforces (no
# inline script, nothing fetched from elsewhere), so a value from the chain can never become code.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


async def _security_headers(_: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Cache-Control", "no-cache")  # revalidated (304) each load: never a stale script
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
