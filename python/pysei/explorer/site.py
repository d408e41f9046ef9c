"""The explorer's static site as an aiohttp sub-application.

The pages are plain ES modules and CSS with no build step; index.html names where they send JSON-RPC and open
the WebSocket (the node's own endpoint when the node serves them, the proxy's when ``pysei explorer`` does).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/explorer/"
PROJECT_CONTRACTS = Path(__file__).resolve().parent.parent / "bench" / "contracts" / "contracts.json"
"""The project's own compiled contracts (the benchmark workloads): the pages decode their calls and events too."""


def project_abis() -> dict[str, list[dict[str, object]]]:
    contracts = json.loads(PROJECT_CONTRACTS.read_text())["contracts"] if PROJECT_CONTRACTS.exists() else {}
    return {name: c["abi"] for name, c in contracts.items()}


def explorer_app(rpc_url: str, ws_url: str) -> web.Application:
    """The site; ``rpc_url``/``ws_url`` are paths on the serving origin (resolved by the page against it)."""
    app = web.Application()
    page = (STATIC / "index.html").read_text().format(rpc=html.escape(rpc_url), ws=html.escape(ws_url))

    abis = json.dumps(project_abis())

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    async def project(_: web.Request) -> web.Response:
        return web.Response(text=abis, content_type="application/json")

    app.router.add_get("/", index)
    app.router.add_get("/project-abis.json", project)  # before the static files, which would 404 it
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
