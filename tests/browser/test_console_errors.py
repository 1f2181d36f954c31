"""Errors reach the person using the console in the server's own words."""

from __future__ import annotations

import pytest

from realtime.server import vendor
from tests.browser.console import ConsolePage, server_reply


@pytest.mark.parametrize(
    ("form", "start"),
    [
        ({"speaker": "nobody"}, {"mode": "custom_voice", "speaker": "nobody"}),
        ({"seed": "-5"}, {"mode": "custom_voice", "seed": "-5"}),
    ],
    ids=["unknown_speaker", "bad_seed"],
)
def test_a_bad_config_shows_the_servers_error(server, open_console, form: dict, start: dict) -> None:
    expected = server_reply(server.url, **start)
    assert expected["type"] == "error" and expected["fatal"] is True

    console: ConsolePage = open_console(server)
    console.connect(fields=form)
    console.wait("c.state === 'closed'")
    shown = console.page.locator("#errors li").all_text_contents()
    assert len(shown) == 1, shown
    assert expected["message"] in shown[0]
    assert expected["name"] in shown[0] and str(expected["code"]) in shown[0]
    assert console.hook("c.closed.code") == expected["code"]
    assert console.page.is_disabled("#line-input")
    console.screenshot(f"console-error-{expected['name']}.png")


def test_a_missing_msgpack_library_is_explained_on_the_page(make_server, open_console, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(vendor, "MSGPACK_ESM_DIR", tmp_path / "not-installed")
    console = open_console(make_server(engine_threads=1))

    assert console.hook("c.library") == "missing"
    assert console.page.locator("#errors li").all_text_contents() == [vendor.MISSING_MESSAGE]
    assert console.page.is_disabled("#connect")
