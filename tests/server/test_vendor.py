"""The page's msgpack library is served from node_modules, or its absence is explained."""

from __future__ import annotations

import urllib.error
import urllib.request

from realtime.server import vendor


def fetch(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.headers.get("content-type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read().decode()


def test_the_esm_build_of_msgpack_is_served_as_javascript_modules(server) -> None:
    status, content_type, body = fetch(server.http_url + "/vendor/msgpack/index.mjs")
    assert status == 200
    assert content_type.startswith("text/javascript")
    assert 'from "./encode.mjs"' in body  # its relative imports resolve under the same prefix
    assert fetch(server.http_url + "/vendor/msgpack/encode.mjs")[0] == 200


def test_the_console_page_is_served_at_the_root(server) -> None:
    status, content_type, body = fetch(server.http_url + "/")
    assert status == 200 and content_type.startswith("text/html")
    assert '<script type="module" src="js/main.js">' in body
    assert fetch(server.http_url + "/js/main.js")[1].startswith("text/javascript")


def test_a_missing_library_is_a_503_that_says_what_to_run(make_server, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(vendor, "MSGPACK_ESM_DIR", tmp_path / "not-installed")
    running = make_server(engine_threads=1)
    status, _, body = fetch(running.http_url + "/vendor/msgpack/index.mjs")
    assert status == 503
    assert body == vendor.MISSING_MESSAGE and "scripts/setup" in body
    assert fetch(running.http_url + "/health")[0] == 200  # the server itself is fine
