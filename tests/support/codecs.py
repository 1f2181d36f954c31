"""Independent checks of encoded streams (test-only): decode with FFmpeg, walk the framing by hand.

Decoding goes through PyAV's FFmpeg decoders with the container named explicitly (a
short raw mp3/ADTS stream is not always recognised by probing), or through libsndfile
for Ogg Vorbis as a second opinion. The structure checks parse headers themselves, so
a repeated header, a stray byte or a cut frame fails loudly.
"""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import soundfile
import soxr

CODEC_FORMATS = ("flac", "ogg", "opus", "mp3", "aac")
DEMUXERS = {"flac": "flac", "ogg": "ogg", "opus": "ogg", "mp3": "mp3", "aac": "aac", "wav": "wav"}


def mp3_frame_samples(rate: int) -> int:
    """Samples per MPEG layer III frame: 1152 for MPEG-1 rates, 576 for MPEG-2/2.5."""
    return 1152 if rate >= 32000 else 576


def allowed_extra_samples(fmt: str, rate: int) -> int:
    """What a decoder may add to the stream's real length: the codec's priming and one padded frame.

    flac, Ogg Vorbis and Ogg Opus carry the exact length (granule positions, pre-skip), so
    nothing; mp3 without a LAME tag shows LAME's 576 + 529 samples of delay, and its flush pads
    out up to two frames (the last partial frame and the rest of its lookahead); ADTS shows AAC's 1024 priming samples and pads the last 1024-sample frame. For Ogg
    Vorbis see below.
    """
    if fmt == "mp3":
        return 1105 + 2 * mp3_frame_samples(rate)
    if fmt == "aac":
        return 1024 + 1024
    if fmt == "ogg":
        # libvorbisfile (soundfile) trims to the last granule exactly; FFmpeg sometimes does not
        # trim the final block and shows up to one short-to-long window (1024 samples) more.
        return 1024
    return 0


def decode(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """All samples of a stream as float32 mono, and the rate the decoder gives them at."""
    if fmt == "pcm":
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0, 0
    if not data:
        return np.zeros(0, dtype=np.float32), 0
    frames: list[np.ndarray] = []
    rate = 0
    with av.open(io.BytesIO(data), format=DEMUXERS[fmt]) as container:
        for frame in container.decode(audio=0):
            rate = frame.sample_rate
            planes = frame.to_ndarray()
            if planes.dtype == np.int16:
                planes = planes.astype(np.float32) / 32768.0
            elif planes.dtype == np.int32:
                planes = planes.astype(np.float32) / 2**31
            frames.append(planes.reshape(-1).astype(np.float32))
    return (np.concatenate(frames) if frames else np.zeros(0, dtype=np.float32)), rate


def decode_at(data: bytes, fmt: str, rate: int) -> np.ndarray:
    """Decoded samples at `rate` (Opus always decodes at 48 kHz: brought back for comparison)."""
    samples, decoded_rate = decode(data, fmt)
    if decoded_rate and decoded_rate != rate and samples.size:
        samples = soxr.resample(samples, decoded_rate, rate).astype(np.float32)
    return samples


def decode_vorbis_with_libsndfile(data: bytes) -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def best_alignment(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Highest normalised correlation of `decoded` against `reference` for a decoder delay in [0, max_lag]."""
    best, best_lag = -1.0, 0
    for lag in range(max(0, min(max_lag, decoded.size - 1)) + 1):
        n = min(reference.size, decoded.size - lag)
        if n <= 0:
            break
        a, b = reference[:n].astype(np.float64), decoded[lag : lag + n].astype(np.float64)
        denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
        score = float(a @ b) / denominator if denominator else 0.0
        if score > best:
            best, best_lag = score, lag
    return best, best_lag


def correlation_after_delay(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> float:
    """Correlation once the codec's delay is found (coarse FFT search, then exact around it)."""
    if max_lag == 0:
        return best_alignment(reference, decoded, 0)[0]
    n = reference.size + decoded.size
    spectrum = np.fft.rfft(decoded, n) * np.conj(np.fft.rfft(reference, n))
    cross = np.fft.irfft(spectrum, n)[: max_lag + 1]
    lag = int(np.argmax(cross))
    lo = max(0, lag - 2)
    score, _ = best_alignment(reference, decoded[lo:], min(4, max_lag - lo))
    return score


# -- structure -------------------------------------------------------------------------------------
def ogg_pages(data: bytes) -> list[dict[str, int]]:
    """Walk an Ogg stream page by page; every byte must belong to a page."""
    pages = []
    offset = 0
    while offset < len(data):
        assert data[offset : offset + 4] == b"OggS", f"no Ogg page at byte {offset}"
        flags = data[offset + 5]
        granule, serial, sequence = struct.unpack_from("<qII", data, offset + 6)
        segments = data[offset + 26]
        body = sum(data[offset + 27 : offset + 27 + segments])
        pages.append({"flags": flags, "granule": granule, "serial": serial, "sequence": sequence})
        offset += 27 + segments + body
    assert offset == len(data), "the last Ogg page is cut"
    return pages


def check_ogg_structure(data: bytes) -> list[dict[str, int]]:
    """One logical stream: one BOS page first, one EOS page last, pages numbered without a gap."""
    pages = ogg_pages(data)
    assert pages, "no Ogg pages"
    assert len({page["serial"] for page in pages}) == 1, "more than one logical stream"
    assert [page["sequence"] for page in pages] == list(range(len(pages))), "pages missing or repeated"
    assert [bool(page["flags"] & 2) for page in pages].count(True) == 1 and pages[0]["flags"] & 2
    assert [bool(page["flags"] & 4) for page in pages].count(True) == 1 and pages[-1]["flags"] & 4
    return pages


def flac_frames_start(data: bytes) -> int:
    """Check the one fLaC header and its metadata blocks; return where audio frames begin."""
    assert data[:4] == b"fLaC", "no fLaC marker at the start"
    offset = 4
    while True:
        header = data[offset]
        length = int.from_bytes(data[offset + 1 : offset + 4], "big")
        offset += 4 + length
        if header & 0x80:  # last metadata block
            return offset


def check_flac_structure(data: bytes) -> None:
    start = flac_frames_start(data)
    assert data.count(b"fLaC") == 1, "a second fLaC header"
    assert start == len(data) or data[start] == 0xFF and data[start + 1] & 0xFE == 0xF8, "no frame after metadata"


_MP3_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_frames(data: bytes) -> list[int]:
    """Walk MPEG layer III frames from byte 0; every byte must belong to a frame. Returns frame rates."""
    rates = []
    offset = 0
    while offset < len(data):
        assert offset + 4 <= len(data), "a cut mp3 frame header"
        header = int.from_bytes(data[offset : offset + 4], "big")
        assert header >> 21 == 0x7FF, f"no mp3 frame sync at byte {offset}"
        version = (header >> 19) & 3
        assert (header >> 17) & 3 == 1, "not layer III"
        bitrate_index = (header >> 12) & 15
        rate = _MP3_RATES[version][(header >> 10) & 3]
        padding = (header >> 9) & 1
        kbps = (_MP3_BITRATES_V1 if version == 3 else _MP3_BITRATES_V2)[bitrate_index]
        length = (144 if version == 3 else 72) * kbps * 1000 // rate + padding
        rates.append(rate)
        offset += length
    assert offset == len(data), "the last mp3 frame is cut"
    return rates


_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def adts_frames(data: bytes) -> list[int]:
    """Walk ADTS frames from byte 0; every byte must belong to a frame. Returns frame rates."""
    rates = []
    offset = 0
    while offset < len(data):
        assert data[offset] == 0xFF and data[offset + 1] & 0xF6 == 0xF0, f"no ADTS sync at byte {offset}"
        rates.append(_ADTS_RATES[(data[offset + 2] >> 2) & 15])
        length = ((data[offset + 3] & 3) << 11) | (data[offset + 4] << 3) | (data[offset + 5] >> 5)
        assert length >= 7
        offset += length
    assert offset == len(data), "the last ADTS frame is cut"
    return rates


def check_structure(data: bytes, fmt: str, rate: int) -> None:
    """The whole stream is one container of `fmt`: one header, framing intact to the last byte."""
    if fmt == "flac":
        check_flac_structure(data)
    elif fmt in ("ogg", "opus"):
        pages = check_ogg_structure(data)
        codec_id = b"\x01vorbis" if fmt == "ogg" else b"OpusHead"
        assert data[28 : 28 + len(codec_id)] == codec_id
        assert data.count(codec_id) == 1, "a second codec header"
        assert len(pages) >= 2
    elif fmt == "mp3":
        assert b"ID3" not in data[:3] and data.count(b"Xing") == 0 and data.count(b"Info") == 0
        assert set(mp3_frames(data)) <= {rate}
    elif fmt == "aac":
        assert set(adts_frames(data)) <= {rate}
    else:
        raise ValueError(fmt)
