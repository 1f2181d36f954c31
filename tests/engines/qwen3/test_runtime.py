"""The import guard and load options: qwen_tts imports on torch 2.13 CPU without torchaudio,
and nothing on the server's import path pulls in torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from realtime.engines.qwen3 import runtime
from realtime.engines.qwen3.runtime import LoadOptions


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def fresh_imports() -> dict[str, str]:
    """qwen_tts, then qwen_asr, imported through the guard in one fresh interpreter (each import of the
    torch stack costs seconds): what each check found, "ok" or the failure, and what stdout said."""
    done = run_python("""
        import json, sys, traceback
        sys.modules["nagisa"] = None  # absent, as `scripts/setup qwen` leaves it (--no-deps)
        import realtime.engines.qwen3.runtime as r
        found = {}

        def check(name, body):
            try:
                body()
                found[name] = "ok"
            except BaseException:
                found[name] = traceback.format_exc()

        def qwen_tts():
            qwen_tts = r.import_qwen_tts()
            assert qwen_tts.Qwen3TTSModel.__name__ == "Qwen3TTSModel"
            assert r.import_qwen_tts() is qwen_tts
            print("stubbed:", ",".join(r.stubbed_modules()))

        def qwen_asr():
            qwen_asr = r.import_qwen_asr()
            assert qwen_asr.Qwen3ForcedAligner.__name__ == "Qwen3ForcedAligner"
            assert r.import_qwen_asr() is qwen_asr
            assert "nagisa" in r.stubbed_modules(), r.stubbed_modules()
            try:
                sys.modules["nagisa"].tagging("テスト")
            except RuntimeError as exc:
                assert "Japanese word splitter" in str(exc)
            else:
                raise AssertionError("the nagisa stub did something")

        check("qwen_tts", qwen_tts)
        check("qwen_asr", qwen_asr)
        print(json.dumps(found))
    """)
    assert done.returncode == 0, done.stderr
    *printed, verdicts = done.stdout.strip().splitlines()
    return {**json.loads(verdicts), "stdout": "\n".join(printed)}


def test_qwen_tts_imports_through_the_guard_in_a_fresh_interpreter(fresh_imports: dict[str, str]) -> None:
    assert fresh_imports["qwen_tts"] == "ok", fresh_imports["qwen_tts"]
    # The flash-attn banner qwen_tts prints at import is kept off stdout.
    assert fresh_imports["stdout"].startswith("stubbed:") and "flash-attn" not in fresh_imports["stdout"]


def test_qwen_asr_imports_through_the_guard_without_its_japanese_splitter(fresh_imports: dict[str, str]) -> None:
    assert fresh_imports["qwen_asr"] == "ok", fresh_imports["qwen_asr"]


def test_the_server_and_the_qwen3_modules_import_without_torch() -> None:
    done = run_python("""
        import sys
        import realtime.cli, realtime.config, realtime.server.app, realtime.server.run
        import realtime.engines.qwen3.runtime, realtime.engines.qwen3.checkpoints, realtime.engines.qwen3.manager
        import realtime.tools.qwen3_checkpoints, realtime.tools.qwen3_aligner_checkpoint, realtime.engines.qwen3.aligner_checkpoints
        import realtime.words.qwen3_aligner
        heavy = sorted(m for m in ("torch", "transformers", "qwen_tts", "qwen_asr") if m in sys.modules)
        assert not heavy, heavy
    """)
    assert done.returncode == 0, done.stderr


def test_without_torch_the_server_still_starts_and_the_guard_says_how_to_install() -> None:
    done = run_python("""
        import sys
        sys.modules["torch"] = None  # as if the qwen extra were not installed
        from realtime.engines.qwen3.runtime import Qwen3Unavailable, import_qwen_tts
        try:
            import_qwen_tts()
        except Qwen3Unavailable as exc:
            assert "scripts/setup qwen" in str(exc), exc
            assert isinstance(exc.__cause__, ImportError)
        else:
            raise AssertionError("import_qwen_tts() succeeded without torch")
        from realtime.config import ServerConfig
        from realtime.server.run import BackgroundServer
        with BackgroundServer(ServerConfig(log_level="warning", engine_threads=1)) as server:
            print("started", server.port)
    """, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("started")


def test_a_stub_module_imports_like_the_real_one_and_refuses_to_be_used() -> None:
    names = ("stubbed_audio", "stubbed_audio.compliance", "stubbed_audio.compliance.kaldi")
    runtime._stub_module(names[0], names[1:])
    try:
        import stubbed_audio.compliance.kaldi as kaldi  # type: ignore[import-not-found]

        with pytest.raises(RuntimeError, match="25 Hz"):
            kaldi.fbank()
        with pytest.raises(AttributeError):
            kaldi.__path__  # noqa: B018  (the import machinery must see a plain module)
    finally:
        for name in names:
            sys.modules.pop(name, None)


@pytest.mark.parametrize(
    "options", [dict(device="gpu"), dict(device="cuda:x"), dict(dtype="int8"), dict(attn_implementation="flash")]
)
def test_load_options_refuse_unknown_values(options: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        LoadOptions(**options)


def test_auto_dtype_is_float32_on_the_cpu_and_bfloat16_on_a_gpu() -> None:
    assert LoadOptions().resolved_dtype("cpu") == "float32"
    assert LoadOptions().resolved_dtype("cuda:0") == "bfloat16"
    assert LoadOptions(dtype="float16").resolved_dtype("cpu") == "float16"


def test_cuda_means_the_first_gpu_and_cpu_stays_cpu() -> None:
    assert LoadOptions(device="cuda").resolved_device() == "cuda:0"
    assert LoadOptions(device="cuda:1").resolved_device() == "cuda:1"
    assert LoadOptions(device="cpu").resolved_device() == "cpu"


def test_loading_in_bfloat16_on_the_cpu_keeps_the_speech_decoder_in_float32(tiny_checkpoints: dict[str, Path]) -> None:
    import torch

    model = runtime.load_model(tiny_checkpoints["voice_design"], LoadOptions(device="cpu", dtype="bfloat16"))
    assert model.model.talker.dtype == torch.bfloat16
    assert {p.dtype for p in model.model.speech_tokenizer.model.parameters()} == {torch.float32}
    assert model.model.tts_model_type == "voice_design"


def test_a_directory_without_a_checkpoint_is_a_model_files_error(tmp_path: Path) -> None:
    with pytest.raises(runtime.ModelFilesError, match="no config.json"):
        runtime.load_model(tmp_path, LoadOptions(device="cpu"))


def test_broken_weights_are_a_model_files_error_with_the_cause(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "tiny-base"
    shutil.copytree(tiny_checkpoints["base"], broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(runtime.ModelFilesError, match="tiny-base") as raised:
        runtime.load_model(broken, LoadOptions(device="cpu"))
    assert raised.value.__cause__ is not None


def test_load_options_follow_the_server_configuration() -> None:
    from realtime.config import ServerConfig

    config = ServerConfig(device="cuda:2", dtype="float16", attn_implementation="eager")
    assert LoadOptions.from_config(config) == LoadOptions(device="cuda:2", dtype="float16", attn_implementation="eager")
