"""``/docs``: the API reference, Swagger UI over ``/openapi.json``.

Swagger UI's built files (5.x: the document is OpenAPI 3.1) come from the ``swagger-ui-py`` package, no CDN; its
framework glue is not used. The page and its start-up script are this project's own. The page runs script, unlike
the dashboard, so it has its own Content-Security-Policy: scripts and data from this origin only."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aiohttp import web

from indexer.api import params
from indexer.api.models import NoQuery

STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>position-health-indexer API</title>
<link rel="stylesheet" href="/docs/ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/ui/swagger-ui-bundle.js"></script>
<script src="/docs/static/docs.js"></script>
</body>
</html>
"""
_UI_FILES = ("swagger-ui.css", "swagger-ui-bundle.js")
_TYPES = {".css": "text/css", ".js": "text/javascript"}


def swagger_ui_dir() -> Path:
    """The package's ``static`` folder, found without importing the package (and its framework glue)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise web.HTTPServiceUnavailable(text="the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


async def docs_handler(request: web.Request) -> web.Response:
    params.query(request, NoQuery)
    return web.Response(text=PAGE, content_type="text/html",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def _file(path: Path) -> web.Response:
    return web.Response(body=path.read_bytes(), content_type=_TYPES[path.suffix],
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


async def ui_handler(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _UI_FILES:
        raise web.HTTPNotFound()
    return _file(swagger_ui_dir() / name)


async def static_handler(request: web.Request) -> web.Response:
    if request.match_info["name"] != "docs.js":
        raise web.HTTPNotFound()
    return _file(STATIC / "docs.js")
