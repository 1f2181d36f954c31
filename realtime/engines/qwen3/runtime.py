"""The one door to the torch / qwen-tts / qwen-asr stack: import guards, load options, model loading.

`qwen-tts` 0.1.1 is installed with `--no-deps` (its declared dependencies pull gradio,
torchaudio, sox and onnxruntime, which the 12 Hz models never use; PyPI has no CPU
torchaudio that imports beside torch 2.13). But `import qwen_tts` eagerly imports the
25 Hz tokenizer, which imports `torchaudio.compliance.kaldi`, `sox` and `onnxruntime`
at module level. For each of those that is absent or broken, a stub module is put in
`sys.modules` first; calling into a stub raises a clear error (only the 25 Hz tokenizer
would).

`qwen-asr` 0.0.6 (Qwen3-ForcedAligner, for word timestamps) is installed the same way:
it pins transformers 4.57.6 and declares gradio, flask, sox and nagisa, none of which the
aligner's transformers path needs; its model classes work on our transformers 4.57.3. Its
`__init__` imports the Japanese word splitter `nagisa` (native DyNet) at module level, so
`nagisa` is stubbed the same way when absent: the server gives the aligner its own words
(realtime/words/splitter.py) and never calls qwen-asr's splitters.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import io
import logging
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.config import ATTN_IMPLEMENTATIONS, DTYPES, ServerConfig, check_device

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install the Qwen3-TTS stack with `scripts/setup qwen` "
    "(torch==2.13.0, then qwen-tts==0.1.1 and qwen-asr==0.0.6 --no-deps and the extra `.[qwen]`)"
)


class Qwen3Unavailable(RuntimeError):
    """The torch / qwen-tts stack cannot be imported here; the message says how to install it."""


class ModelFilesError(RuntimeError):
    """A checkpoint directory could not be loaded by the official loader (cause chained)."""


# Modules that only the 25 Hz tokenizer uses, imported at `import qwen_tts` time:
# name -> the submodules the import statements reach.
_TWENTY_FIVE_HZ_ONLY = {
    "torchaudio": ("torchaudio.compliance", "torchaudio.compliance.kaldi"),
    "sox": (),
    "onnxruntime": (),
}

_import_lock = threading.Lock()
_stubbed: list[str] = []
# transformers' from_pretrained is not thread-safe: it builds the model under process-wide
# state (the meta-device init context, the default dtype), so two loads at once in different
# threads can break each other ("Cannot copy out of meta tensor"). The model manager keeps
# its per-model locks (a loaded model is handed out while another loads); the loads
# themselves take turns here.
_from_pretrained_lock = threading.Lock()


def _importable(name: str, submodules: tuple[str, ...]) -> bool:
    """True when the real module and the submodules qwen_tts needs import cleanly."""
    try:
        if importlib.util.find_spec(name) is None:
            return False
        for module in (name, *submodules):
            importlib.import_module(module)
        return True
    except Exception:  # noqa: BLE001  (e.g. a CUDA-only torchaudio wheel on a CPU torch: OSError)
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        return False


def _stub_getattr(unavailable: Any) -> Any:
    def getattr_(attr: str) -> Any:
        if attr.startswith("__"):  # the import machinery probes dunders: behave like a plain module
            raise AttributeError(attr)
        return unavailable

    return getattr_


def _stub_module(name: str, submodules: tuple[str, ...], used_by: str = "the 25 Hz Qwen3-TTS tokenizer") -> None:
    def unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"{name} is not installed: only {used_by} needs it, and it is unsupported here")

    modules = {}
    for module_name in (name, *submodules):
        module = types.ModuleType(module_name)
        # find_spec() raises on a module whose __spec__ is None: give each a loader-less spec.
        module.__spec__ = importlib.machinery.ModuleSpec(module_name, None)
        setattr(module, "__getattr__", _stub_getattr(unavailable))  # module-level __getattr__ (PEP 562)
        modules[module_name] = module
    for module_name in submodules:
        parent, _, child = module_name.rpartition(".")
        setattr(modules[parent], child, modules[module_name])
    sys.modules.update(modules)


def stubbed_modules() -> tuple[str, ...]:
    """Which of the 25 Hz-only modules were replaced by stubs (for logs and tests)."""
    return tuple(_stubbed)


def import_qwen_tts() -> types.ModuleType:
    """Import `qwen_tts` (once), stubbing the 25 Hz-only modules that cannot be imported here.

    Raises `Qwen3Unavailable` with an install hint when torch, transformers or qwen-tts
    itself is missing or broken.
    """
    with _import_lock:
        if "qwen_tts" in sys.modules:
            return sys.modules["qwen_tts"]
        try:
            import torch  # noqa: F401
            # Let transformers record its optional packages before any stub exists,
            # so it never believes a stub is the real torchaudio.
            import transformers.utils.import_utils  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            raise Qwen3Unavailable(f"the torch stack is not installed or broken ({exc}); {INSTALL_HINT}") from exc
        for name, submodules in _TWENTY_FIVE_HZ_ONLY.items():
            if name not in sys.modules and not _importable(name, submodules):
                _stub_module(name, submodules)
                _stubbed.append(name)
        if _stubbed:
            log.debug("qwen_tts: stubbed 25 Hz-only modules %s", ", ".join(_stubbed))
        printed = io.StringIO()
        try:
            # qwen_tts prints a flash-attn banner on stdout at import: keep stdout clean, log it.
            with contextlib.redirect_stdout(printed):
                module = importlib.import_module("qwen_tts")
        except Exception as exc:  # noqa: BLE001
            raise Qwen3Unavailable(f"qwen-tts cannot be imported ({exc}); {INSTALL_HINT}") from exc
        banner = " ".join(line.strip("* ") for line in printed.getvalue().splitlines() if line.strip("* "))
        if banner:
            log.debug("qwen_tts at import: %s", banner)
        return module


# Modules `import qwen_asr` reaches that the forced aligner's transformers path never calls.
_ALIGNER_UNUSED = {"nagisa": ()}


def import_qwen_asr() -> types.ModuleType:
    """Import `qwen_asr` (once), stubbing its Japanese word splitter when it is not installed.

    Raises `Qwen3Unavailable` with an install hint when torch, transformers or qwen-asr is missing or broken.
    """
    with _import_lock:
        if "qwen_asr" in sys.modules:
            return sys.modules["qwen_asr"]
        try:
            import torch  # noqa: F401
            import transformers.utils.import_utils  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            raise Qwen3Unavailable(f"the torch stack is not installed or broken ({exc}); {INSTALL_HINT}") from exc
        for name, submodules in _ALIGNER_UNUSED.items():
            if sys.modules.get(name) is None and not _importable(name, submodules):  # None: blocked, as absent
                _stub_module(name, submodules, used_by="qwen-asr's Japanese word splitter")
                _stubbed.append(name)
        try:
            return importlib.import_module("qwen_asr")
        except Exception as exc:  # noqa: BLE001
            raise Qwen3Unavailable(f"qwen-asr cannot be imported ({exc}); {INSTALL_HINT}") from exc


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How to place a model: device (`cpu`, `cuda`, `cuda:N`, `auto`), dtype, attention kernel."""

    device: str = "auto"
    dtype: str = "auto"
    attn_implementation: str = "sdpa"

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")
        if self.attn_implementation not in ATTN_IMPLEMENTATIONS:
            raise ValueError(f"attn_implementation {self.attn_implementation!r} is not one of {', '.join(ATTN_IMPLEMENTATIONS)}")

    @classmethod
    def from_config(cls, config: ServerConfig) -> LoadOptions:
        """The options `realtime-tts serve` was given (--device, --dtype, --attn-implementation)."""
        return cls(device=config.device, dtype=config.dtype, attn_implementation=config.attn_implementation)

    def resolved_device(self) -> str:
        """`auto` becomes `cuda:0` when a GPU is visible, else `cpu`; `cuda` becomes `cuda:0`."""
        import torch

        if self.device == "auto":
            return "cuda:0" if torch.cuda.is_available() else "cpu"
        return "cuda:0" if self.device == "cuda" else self.device

    def resolved_dtype(self, device: str) -> str:
        """`auto` is bfloat16 on a GPU and float32 on the CPU (bf16 is much slower there)."""
        if self.dtype != "auto":
            return self.dtype
        return "bfloat16" if device.startswith("cuda") else "float32"


def _from_pretrained(model_class: Any, path: Path, options: LoadOptions) -> tuple[Any, str, str]:
    """`model_class.from_pretrained` on a local checkpoint directory, one load at a time; never downloads.

    Returns the model with the device and dtype it was loaded on. Loads take turns because
    transformers' `from_pretrained` is not thread-safe (two at once broke each other).
    """
    import torch

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelFilesError(f"{path} is not a checkpoint directory (no config.json)")
    device = options.resolved_device()
    dtype_name = options.resolved_dtype(device)
    try:
        with _from_pretrained_lock:
            model = model_class.from_pretrained(
                str(path),
                device_map=device,
                dtype=getattr(torch, dtype_name),
                attn_implementation=options.attn_implementation,
                local_files_only=True,
            )
    except Exception as exc:  # noqa: BLE001
        raise ModelFilesError(f"{exc} (from {path}, on {device}, {dtype_name})") from exc
    return model, device, dtype_name


def load_model(path: Path, options: LoadOptions) -> Any:
    """Load one checkpoint directory with the official `Qwen3TTSModel.from_pretrained`.

    On the CPU the speech tokenizer (whose decoder turns codes into audio) stays float32
    whatever the dtype, because its convolutions are ~80x slower in bfloat16 there.
    """
    import torch

    model, device, dtype_name = _from_pretrained(import_qwen_tts().Qwen3TTSModel, path, options)
    speech_tokenizer = model.model.speech_tokenizer
    if device == "cpu" and speech_tokenizer is not None and dtype_name != "float32":
        speech_tokenizer.model.to(torch.float32)
    model.model.eval()
    return model


def load_aligner(path: Path, options: LoadOptions) -> Any:
    """Load a Qwen3-ForcedAligner directory with the official `Qwen3ForcedAligner.from_pretrained` (model + processor)."""
    aligner, _, _ = _from_pretrained(import_qwen_asr().Qwen3ForcedAligner, path, options)
    aligner.model.eval()
    return aligner
