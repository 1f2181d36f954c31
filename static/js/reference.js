// Reference audio for voice cloning: a file the user picks, or a recording (MediaRecorder).
// Either way the page sends the bytes as they are (msgpack bin); the server decodes them.

/** @param {File} file @returns {Promise<Uint8Array>} */
export async function readReferenceFile(file) {
  return new Uint8Array(await file.arrayBuffer());
}

export class ReferenceRecorder {
  constructor() {
    this.recorder = null;
    this.chunks = [];
    this.startedAt = null; // performance.now() when recording began
  }

  /** Seconds recorded so far (0 when not recording). */
  get seconds() {
    return this.recording ? (performance.now() - this.startedAt) / 1000 : 0;
  }

  get recording() {
    return this.recorder !== null && this.recorder.state === "recording";
  }

  async start() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.chunks = [];
    this.recorder = new MediaRecorder(stream);
    this.recorder.ondataavailable = (event) => {
      if (event.data.size > 0) this.chunks.push(event.data);
    };
    this.recorder.start();
    this.startedAt = performance.now();
  }

  /** @returns {Promise<{bytes: Uint8Array, mimeType: string}>} */
  async stop() {
    const recorder = this.recorder;
    if (!recorder) throw new Error("not recording");
    const stopped = new Promise((resolve) => (recorder.onstop = resolve));
    recorder.stop();
    await stopped;
    for (const track of recorder.stream.getTracks()) track.stop();
    this.recorder = null;
    const blob = new Blob(this.chunks, { type: recorder.mimeType });
    return { bytes: new Uint8Array(await blob.arrayBuffer()), mimeType: recorder.mimeType };
  }
}
