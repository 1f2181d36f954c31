// Turns one context's audio bytes (s16le PCM, or a streaming WAV: one header, then s16le PCM)
// into float samples, chunk by chunk. Pure: no Web Audio, no DOM, so tests import it directly.
//
// Chunks may split anywhere (a header across two chunks, a sample across two chunks): bytes
// that do not yet make a whole sample are carried into the next push.

export const PLAYABLE_FORMATS = ["pcm", "wav"];

const TEXT = new TextDecoder("ascii");

export class PcmStreamDecoder {
  /** @param {"pcm"|"wav"} format */
  constructor(format) {
    if (!PLAYABLE_FORMATS.includes(format)) {
      throw new Error(`the console plays ${PLAYABLE_FORMATS.join(" and ")} only, not ${format}`);
    }
    this.format = format;
    this.headerDone = format === "pcm";
    this.pending = new Uint8Array(0);
    this.sampleRate = null; // from the WAV header, when there is one
  }

  /** @param {Uint8Array} bytes @returns {Float32Array} the whole samples available now */
  push(bytes) {
    let data = concat(this.pending, bytes);
    if (!this.headerDone) {
      const skip = this.#headerLength(data);
      if (skip === null) {
        this.pending = data;
        return new Float32Array(0);
      }
      data = data.subarray(skip);
      this.headerDone = true;
    }
    const whole = data.length - (data.length % 2);
    const view = new DataView(data.buffer, data.byteOffset, whole);
    const samples = new Float32Array(whole / 2);
    for (let i = 0; i < samples.length; i++) {
      samples[i] = view.getInt16(i * 2, true) / 32768;
    }
    this.pending = data.slice(whole);
    return samples;
  }

  // Length of the RIFF header up to the start of the `data` chunk's payload, or null if incomplete.
  #headerLength(data) {
    if (data.length < 12) return null;
    if (TEXT.decode(data.subarray(0, 4)) !== "RIFF" || TEXT.decode(data.subarray(8, 12)) !== "WAVE") {
      throw new Error("the wav stream does not start with a RIFF/WAVE header");
    }
    const view = new DataView(data.buffer, data.byteOffset, data.length);
    let offset = 12;
    while (offset + 8 <= data.length) {
      const id = TEXT.decode(data.subarray(offset, offset + 4));
      const size = view.getUint32(offset + 4, true);
      if (id === "data") return offset + 8;
      if (id === "fmt ") {
        if (offset + 8 + 16 > data.length) return null;
        const encoding = view.getUint16(offset + 8, true);
        const channels = view.getUint16(offset + 10, true);
        const bits = view.getUint16(offset + 22, true);
        if (encoding !== 1 || channels !== 1 || bits !== 16) {
          throw new Error(`the wav stream is not 16-bit mono PCM (encoding ${encoding}, ${channels} channels, ${bits} bits)`);
        }
        this.sampleRate = view.getUint32(offset + 12, true);
      }
      offset += 8 + size + (size % 2);
    }
    return null;
  }
}

function concat(a, b) {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
