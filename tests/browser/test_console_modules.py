"""The console's pure modules, imported by the page itself in Chromium and checked directly."""

from __future__ import annotations

import itertools
import struct
from typing import Any

import numpy as np
import pytest

from realtime.audio.wav import wav_header
from tests.browser.console import ConsolePage


@pytest.fixture
def console(server, open_console) -> ConsolePage:
    return open_console(server)


def run_module(console: ConsolePage, module: str, body: str, arg: Any = None) -> Any:
    """Run `body` (an async function body with `m` the module and `arg` the argument) in the page."""
    return console.page.evaluate(
        f"async (arg) => {{ const m = await import('/js/{module}'); {body} }}",
        arg,
    )


def test_wav_decoding_is_the_same_however_the_bytes_are_split(console) -> None:
    samples = (np.sin(np.arange(600) / 7) * 20000).astype("<i2")
    stream = wav_header(16000) + samples.tobytes()
    cuts = [0, 3, 20, 43, 45, 101, 600, len(stream)]  # inside the header, at its end, mid-sample
    pieces = [list(stream[a:b]) for a, b in itertools.pairwise(cuts)]
    decoded = run_module(
        console,
        "pcm.js",
        """const d = new m.PcmStreamDecoder("wav");
           const out = arg.map(p => Array.from(d.push(new Uint8Array(p))));
           return {lengths: out.map(o => o.length), samples: out.flat(), rate: d.sampleRate};""",
        pieces,
    )
    assert decoded["rate"] == 16000
    assert decoded["lengths"][:3] == [0, 0, 0]  # nothing before the header is complete
    assert decoded["samples"] == pytest.approx((samples / 32768).tolist(), abs=1e-7)


def test_pcm_decoding_carries_an_odd_byte_into_the_next_chunk(console) -> None:
    data = list(struct.pack("<3h", -32768, 1, 32767))
    decoded = run_module(
        console,
        "pcm.js",
        "const d = new m.PcmStreamDecoder('pcm'); return [arg.slice(0, 3), arg.slice(3)].map(p => Array.from(d.push(new Uint8Array(p))));",
        data,
    )
    assert decoded == [[-1.0], pytest.approx([1 / 32768, 32767 / 32768])]


def test_formats_the_page_cannot_decode_as_they_arrive_are_refused(console) -> None:
    message = run_module(console, "pcm.js", "try { new m.PcmStreamDecoder('mp3'); return null; } catch (e) { return e.message; }")
    assert message == "the console plays pcm and wav only, not mp3"


def test_timeline_places_chunks_end_to_end_after_the_jitter_buffer(console) -> None:
    placed = run_module(
        console,
        "timeline.js",
        """const t = new m.StreamTimeline(24000, 2400, 120);
           return [t.place(4800, 1.0), t.place(2400, 1.1), t.place(1000, 1.2)];""",
    )
    assert [p["startFrame"] for p in placed] == [26400, 31200, 33600]
    assert [p["start"] for p in placed] == [1.1, 1.3, 1.4]
    assert [p["underrun"] for p in placed] == [False, False, False]


def test_timeline_reanchors_and_counts_an_underrun_and_waits_for_other_streams(console) -> None:
    result = run_module(
        console,
        "timeline.js",
        """const t = new m.StreamTimeline(1000, 100, 10);
           const first = t.place(50, 0, 5000);     // another stream plays until frame 5000
           const late = t.place(50, 6.0);          // due at 5.05 s, arrives at 6 s
           return {first, late, underruns: t.underruns, end: t.endFrame};""",
    )
    assert result["first"]["startFrame"] == 5000
    assert result["late"] == {"startFrame": 6100, "start": 6.1, "duration": 0.05, "underrun": True}
    assert result["underruns"] == 1 and result["end"] == 6150


def test_session_start_carries_only_what_the_mode_uses(console) -> None:
    values = {
        "mode": "voice_design", "model": "", "speaker": "heart", "instruct": " a calm voice ", "refAudio": None,
        "refText": "ignored", "xVectorOnly": True, "language": "english", "seed": "42", "format": "wav",
        "sampleRate": "16000", "segmentation": "line", "token": "",
    }
    start = run_module(console, "config.js", "return m.buildSessionStart(arg);", values)
    assert start == {
        "type": "session.start", "mode": "voice_design", "instruct": "a calm voice", "language": "english",
        "seed": 42, "format": "wav", "sample_rate": 16000, "segmentation": "line",
    }
    clone = run_module(
        console,
        "config.js",
        "const s = m.buildSessionStart({...arg, mode: 'voice_clone', refAudio: new Uint8Array([1, 2, 3])});"
        " return {...s, ref_audio: Array.from(s.ref_audio)};",
        values,
    )
    assert clone["ref_audio"] == [1, 2, 3] and clone["ref_text"] == "ignored" and clone["x_vector_only"] is True
    assert "instruct" not in clone and "speaker" not in clone


def test_a_seed_that_is_not_a_whole_number_is_left_for_the_server_to_refuse(console) -> None:
    seeds = run_module(console, "config.js", "return ['', ' 7 ', '-5', '1.5', 'abc'].map(m.parseSeed);")
    assert seeds == [None, 7, "-5", "1.5", "abc"]


def test_model_lists_are_read_in_openai_and_plain_shapes(console) -> None:
    normalized = run_module(
        console,
        "config.js",
        """return [
             m.normalizeModels({object: 'list', data: [{id: 'hibari', modes: ['custom_voice'], speakers: [{name: 'heart'}]}]}),
             m.normalizeModels([{name: 'qwen', languages: ['english', 7]}]),
             m.normalizeModels({detail: 'Not Found'}),
           ];""",
    )
    assert normalized == [
        [{"name": "hibari", "modes": ["custom_voice"], "speakers": ["heart"], "languages": []}],
        [{"name": "qwen", "modes": [], "speakers": [], "languages": ["english"]}],
        [],
    ]


def test_offsets_count_code_points_as_the_server_does(console) -> None:
    text = "héllo 👋 世界\n"
    assert run_module(console, "config.js", "return m.codePointLength(arg);", text) == len(text)


PLAYER_SCENE = """
  const ac = new OfflineAudioContext(1, 24000 * 10, 24000);
  const seen = [];
  const p = new m.StreamPlayer(ac, ac.destination, {leadSeconds: 0.1, onScheduled: e => seen.push(e.ctx + ':' + e.seq)});
  const chunk = n => new Float32Array(n).fill(0.1);
"""


def test_player_holds_a_later_stream_until_the_earlier_one_has_all_its_audio(console) -> None:
    result = run_module(
        console,
        "player.js",
        PLAYER_SCENE
        + """
           p.play('a', chunk(2400), {seq: 0});
           p.play('b', chunk(1200), {seq: 0});      // arrives while 'a' is still streaming
           const whileHeld = [...seen];
           p.play('a', chunk(4800), {seq: 1});
           p.finish('a');
           p.play('b', chunk(600), {seq: 1});
           return {whileHeld, seen, frames: p.scheduled.map(e => [e.ctx, e.startFrame, e.frames])};""",
    )
    assert result["whileHeld"] == ["a:0"]
    assert result["seen"] == ["a:0", "a:1", "b:0", "b:1"]
    assert result["frames"] == [["a", 2400, 2400], ["a", 4800, 4800], ["b", 9600, 1200], ["b", 10800, 600]]


def test_player_cancel_drops_held_audio_and_fences_the_stream(console) -> None:
    result = run_module(
        console,
        "player.js",
        PLAYER_SCENE
        + """
           p.play('a', chunk(2400), {seq: 0});
           p.play('b', chunk(1200), {seq: 0});
           p.cancel('b');
           p.finish('a');
           p.play('b', chunk(1200), {seq: 1});
           const afterCancel = [...seen];
           p.cancel('a');
           return {afterCancel, dropped: p.dropped, fenced: p.isFenced('b'), stopped: p.scheduled.map(e => e.stopped),
                   active: p.activeSources};""",
    )
    assert result["afterCancel"] == ["a:0"]
    assert result["dropped"] == 1 and result["fenced"] is True
    assert result["stopped"] == [True] and result["active"] == 0
