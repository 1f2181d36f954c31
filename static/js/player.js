// Plays streams of float samples through Web Audio, each chunk at its exact sample position.
//
// One StreamTimeline per context; every chunk becomes an AudioBufferSourceNode started at the
// frame where the previous chunk of its stream ends. A new stream starts after whatever other
// streams still have scheduled, so lines play one after another. Cancel stops every source of a
// stream that has not finished and fences the stream: nothing of it is scheduled again.

import { StreamTimeline } from "./timeline.js";

export class StreamPlayer {
  /**
   * @param {AudioContext} audioContext running at the streams' sample rate
   * @param {AudioNode} output where sources connect (an analyser in front of the speakers)
   * @param {{leadSeconds?: number, marginSeconds?: number}} options
   */
  constructor(audioContext, output, { leadSeconds = 0.15, marginSeconds = 0.005 } = {}) {
    this.audioContext = audioContext;
    this.output = output;
    this.sampleRate = audioContext.sampleRate;
    this.leadFrames = Math.round(leadSeconds * this.sampleRate);
    this.marginFrames = Math.round(marginSeconds * this.sampleRate);
    this.streams = new Map(); // ctx -> {timeline, sources: Map<AudioBufferSourceNode, entry>}
    this.fenced = new Set();
    this.scheduled = []; // every chunk ever scheduled, for the captions and the test hook
    this.dropped = 0; // chunks that arrived for a fenced stream
  }

  /** Whether audio for `ctx` is refused (it was cancelled). */
  isFenced(ctx) {
    return this.fenced.has(ctx);
  }

  /**
   * Schedule one chunk; returns its schedule entry, or null if the stream is fenced or empty.
   * @param {string} ctx
   * @param {Float32Array} samples
   * @param {object} meta fields copied into the entry (seq, segment, timestamp_ms, ...)
   */
  play(ctx, samples, meta = {}) {
    if (this.fenced.has(ctx)) {
      this.dropped += 1;
      return null;
    }
    if (samples.length === 0) return null;
    let stream = this.streams.get(ctx);
    if (!stream) {
      stream = { timeline: new StreamTimeline(this.sampleRate, this.leadFrames, this.marginFrames), sources: new Map() };
      this.streams.set(ctx, stream);
    }
    const placed = stream.timeline.place(samples.length, this.audioContext.currentTime, this.#horizonFrame(stream));
    const buffer = this.audioContext.createBuffer(1, samples.length, this.sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = this.audioContext.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output);
    const entry = {
      ctx,
      ...meta,
      start: placed.start,
      duration: placed.duration,
      startFrame: placed.startFrame,
      frames: samples.length,
      sampleRate: this.sampleRate,
      underrun: placed.underrun,
      scheduledAt: performance.now(),
      stopped: false,
      ended: false,
    };
    source.onended = () => {
      entry.ended = true;
      stream.sources.delete(source);
    };
    source.start(placed.start);
    stream.sources.set(source, entry);
    this.scheduled.push(entry);
    return entry;
  }

  /** Barge-in: stop everything of `ctx` now and refuse its later chunks. */
  cancel(ctx) {
    this.fenced.add(ctx);
    const stream = this.streams.get(ctx);
    if (!stream) return;
    for (const [source, entry] of stream.sources) {
      entry.stopped = true;
      source.onended = null;
      try {
        source.stop();
      } catch {
        // never started or already stopped: nothing to silence
      }
      source.disconnect();
    }
    stream.sources.clear();
    this.streams.delete(ctx);
  }

  /** Cancel every stream. */
  cancelAll() {
    for (const ctx of [...this.streams.keys()]) this.cancel(ctx);
  }

  /** Sources still scheduled or sounding. */
  get activeSources() {
    let count = 0;
    for (const stream of this.streams.values()) count += stream.sources.size;
    return count;
  }

  /** Underruns over all streams (each one a gap the network or the server caused). */
  get underruns() {
    return this.scheduled.filter((entry) => entry.underrun).length;
  }

  // A stream's first chunk waits for the end of what the other streams still have to play.
  #horizonFrame(self) {
    let end = 0;
    for (const stream of this.streams.values()) {
      if (stream !== self && stream.sources.size > 0 && stream.timeline.endFrame !== null) {
        end = Math.max(end, stream.timeline.endFrame);
      }
    }
    return end;
  }
}
