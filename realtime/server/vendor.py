"""The page's one npm library, `@msgpack/msgpack`, served from `node_modules` (never a copy in the repo).

`scripts/setup` runs `npm ci`; when it has not (no Node on the machine, say), the server still
starts and answers the library's URL with a plain 503 that the page shows, so the socket API keeps
working and the console says exactly what to run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MSGPACK_ESM_DIR = PROJECT_ROOT / "node_modules" / "@msgpack" / "msgpack" / "dist.esm"
MSGPACK_URL_PATH = "/vendor/msgpack"
MISSING_MESSAGE = (
    "The browser console's msgpack library (@msgpack/msgpack) is not installed on the server: "
    "run scripts/setup (it runs `npm ci`) and restart the server."
)


async def _missing_library(request: Request) -> PlainTextResponse:
    return PlainTextResponse(MISSING_MESSAGE, status_code=503)


def vendor_routes(esm_dir: Path | None = None) -> list[BaseRoute]:
    """Routes serving the ESM build under MSGPACK_URL_PATH, or a 503 explaining what is missing."""
    esm_dir = esm_dir or MSGPACK_ESM_DIR
    if (esm_dir / "index.mjs").is_file():
        return [Mount(MSGPACK_URL_PATH, StaticFiles(directory=esm_dir), name="vendor-msgpack")]
    logger.warning("%s (looked in %s)", MISSING_MESSAGE, esm_dir)
    return [Route(MSGPACK_URL_PATH + "/{path:path}", _missing_library)]
