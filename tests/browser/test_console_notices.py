"""Notices (not errors) reach the person using the console: a setting the model ignores, a segment cut short."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from realtime.backend.backend import TTSBackend
from realtime.engines.base import CancelFlag, EngineChunk, Voice, VoiceRequest
from realtime.engines.hibari_engine import HibariEngine
from realtime.protocol.messages import VoiceSpec
from tests.support.servers import server_fixture

IGNORED = "this voice ignores one of your settings"
CUT = "the model did not end this segment; its audio was cut"


class _CutVoice(Voice):
    def __init__(self, inner: Voice) -> None:
        self._inner = inner

    def synthesize(self, text: str, cancel: CancelFlag) -> Iterator[EngineChunk]:
        for chunk in self._inner.synthesize(text, cancel):
            yield replace(chunk, notice=CUT) if chunk.final else chunk

    def close(self) -> None:
        self._inner.close()


class NoticingEngine(HibariEngine):
    """The embedded voice, with a notice for every voice and for the end of every segment."""

    def notices(self, spec: VoiceSpec) -> tuple[str, ...]:
        return (IGNORED,)

    def open_voice(self, request: VoiceRequest) -> Voice:
        return _CutVoice(super().open_voice(request))


noticing_server = server_fixture(backend=lambda: TTSBackend([NoticingEngine(threads=1)], engine_threads=1))


def test_notices_are_shown_apart_from_errors(noticing_server, open_console) -> None:
    console = open_console(noticing_server)
    console.connect()
    console.wait("c.state === 'ready'")
    console.wait("c.notices.length === 1")
    console.say("One sentence.")
    console.page.click("#end")
    console.wait("c.done.length === 1")
    console.wait("c.notices.length === 2")
    shown = console.page.locator("#notices li").all_text_contents()
    assert shown[0] == IGNORED
    assert shown[1].startswith(CUT) and "segment 0" in shown[1]
    assert console.page.locator("#errors li").count() == 0
    assert console.hook("c.errors.length") == 0
