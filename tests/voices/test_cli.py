"""`realtime-tts voices ...` and `say --voice` against a real server on tiny checkpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import soundfile

from realtime.config import ServerConfig
from realtime.server.run import BackgroundServer
from tests.support.saved_voices import wav_bytes


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "realtime", *args], capture_output=True, text=True, timeout=300)


def test_voices_are_created_listed_used_previewed_renamed_and_deleted_from_the_shell(
    tiny_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    reference = tmp_path / "ref.wav"
    reference.write_bytes(wav_bytes())
    config = ServerConfig(models_dir=tiny_checkpoints["base"].parent, device="cpu", log_level="warning",
                          engine_threads=1, data_dir=tmp_path / "data")
    with BackgroundServer(config) as server:
        base = ("voices", "--server", server.http_url)
        made = cli(*base, "create", "Shell voice", "--audio", str(reference), "--ref-text", "A reference line.")
        assert made.returncode == 0, made.stderr
        voice = json.loads(made.stdout)
        assert voice["name"] == "Shell voice" and voice["source"] == "clone"
        blend = cli(*base, "create", "Mix", "--blend", f"{voice['id']}:0.5", f"{voice['id']}x:0.5")
        assert blend.returncode == 1 and "404" in blend.stderr
        listed = cli(*base, "list")
        assert listed.returncode == 0 and voice["id"] in listed.stdout and "Shell voice" in listed.stdout
        spoken = cli("say", "Hi.", "-o", str(tmp_path / "said.wav"), "--url", server.url, "--voice", voice["id"])
        assert spoken.returncode == 0, spoken.stderr
        assert soundfile.info(str(tmp_path / "said.wav")).duration > 0
        preview = cli(*base, "sample", voice["id"], "-o", str(tmp_path / "preview.wav"))
        assert preview.returncode == 0 and soundfile.info(str(tmp_path / "preview.wav")).duration > 0
        renamed = cli(*base, "rename", voice["id"], "Renamed")
        assert renamed.returncode == 0 and json.loads(renamed.stdout)["name"] == "Renamed"
        assert cli(*base, "delete", voice["id"]).returncode == 0
        gone = cli(*base, "get", voice["id"])
        assert gone.returncode == 1 and "voice_not_found" in gone.stderr
    unreachable = cli(*base, "list")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
