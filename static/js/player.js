// Plays streams of float samples through Web Audio, each chunk at its exact sample position.
//
// One StreamTimeline per context; every chunk becomes an AudioBufferSourceNode started at the
// frame where the previous chunk of its stream ends. Streams are heard one after another, in the
// order they began: a stream's chunks are held until every earlier stream has all its audio,
// then start where that audio ends. Cancel stops every source of a stream that has not finished,
// drops what it held, and fences the stream: nothing of it is scheduled again.

import { StreamTimeline } from "./timeline.js";

export class StreamPlayer {
  /**
   * @param {AudioContext} audioContext running at the streams' sample rate
   * @param {AudioNode} output where sources connect (an analyser in front of the speakers)
   * @param {{leadSeconds?: number, marginSeconds?: number, onScheduled?: (entry: object) => void}} options
   */
  constructor(audioContext, output, { leadSeconds = 0.15, marginSeconds = 0.005, onScheduled = () => {} } = {}) {
    this.audioContext = audioContext;
    this.output = output;
    this.onScheduled = onScheduled;
    this.sampleRate = audioContext.sampleRate;
    this.leadFrames = Math.round(leadSeconds * this.sampleRate);
    this.marginFrames = Math.round(marginSeconds * this.sampleRate);
    // ctx -> {timeline, sources: Map<AudioBufferSourceNode, entry>, held: [], finished}, in the
    // order the streams began: a stream plays only once every stream before it has all its audio.
    this.streams = new Map();
    this.fenced = new Set();
    this.scheduled = []; // every chunk ever scheduled, for the captions and the test hook
    this.dropped = 0; // chunks that arrived for a fenced stream
  }

  /** Whether audio for `ctx` is refused (it was cancelled). */
  isFenced(ctx) {
    return this.fenced.has(ctx);
  }

  /**
   * Take one chunk of `ctx`: schedule it now, or hold it while an earlier stream is still
   * arriving (contexts are generated at the same time, but lines are heard one after another).
   * @param {string} ctx
   * @param {Float32Array} samples
   * @param {object} meta fields copied into the schedule entry (seq, segment, timestamp_ms, ...)
   */
  play(ctx, samples, meta = {}) {
    if (this.fenced.has(ctx)) {
      this.dropped += 1;
      return;
    }
    let stream = this.streams.get(ctx);
    if (!stream) {
      stream = {
        timeline: new StreamTimeline(this.sampleRate, this.leadFrames, this.marginFrames),
        sources: new Map(),
        held: [],
        finished: false,
      };
      this.streams.set(ctx, stream);
    }
    if (samples.length === 0) return;
    if (this.#waiting(stream)) {
      stream.held.push({ samples, meta });
      return;
    }
    this.#schedule(ctx, stream, samples, meta);
  }

  /** All of `ctx`'s audio has arrived (its `is_last`, or its `done`): the next stream may play. */
  finish(ctx) {
    const stream = this.streams.get(ctx);
    if (!stream || stream.finished) return;
    stream.finished = true;
    this.#release();
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
    stream.held = [];
    this.streams.delete(ctx);
    this.#release();
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

  #schedule(ctx, stream, samples, meta) {
    const placed = stream.timeline.place(samples.length, this.audioContext.currentTime, this.#endOfOthers(stream));
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
    this.onScheduled(entry);
  }

  // A stream waits while any stream that began before it still has audio to come.
  #waiting(self) {
    for (const [, stream] of this.streams) {
      if (stream === self) return false;
      if (!stream.finished) return true;
    }
    return false;
  }

  #release() {
    for (const [ctx, stream] of this.streams) {
      if (this.#waiting(stream)) return;
      const held = stream.held;
      stream.held = [];
      for (const { samples, meta } of held) this.#schedule(ctx, stream, samples, meta);
    }
  }

  // Where the audio already scheduled by the other streams ends.
  #endOfOthers(self) {
    let end = 0;
    for (const stream of this.streams.values()) {
      if (stream !== self && stream.timeline.endFrame !== null) end = Math.max(end, stream.timeline.endFrame);
    }
    return end;
  }
}
