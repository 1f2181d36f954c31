// Where each chunk of a stream plays on the AudioContext clock, in whole sample frames. Pure.
//
// The AudioContext runs at the stream's own sample rate, so a chunk of n samples lasts exactly
// n frames and chunks placed end to end join with no gap and no overlap: no resampling at the
// joins, no clicks. The first chunk of a stream waits `leadFrames` (the jitter buffer) so the
// next chunks arrive before they are due. If the stream still runs dry (an underrun), it is
// re-anchored `leadFrames` ahead of now and the gap is counted, never hidden.

export class StreamTimeline {
  /**
   * @param {number} sampleRate frames per second of the clock and of the stream
   * @param {number} leadFrames jitter buffer: how far ahead of "now" a stream (re)starts
   * @param {number} marginFrames a chunk due sooner than this counts as late
   */
  constructor(sampleRate, leadFrames, marginFrames = 0) {
    this.sampleRate = sampleRate;
    this.leadFrames = leadFrames;
    this.marginFrames = marginFrames;
    this.nextFrame = null; // where the next chunk starts; null before the first
    this.underruns = 0;
  }

  /**
   * Place a chunk of `frames` samples.
   * @param {number} frames
   * @param {number} nowSeconds the clock's current time
   * @param {number} notBeforeFrame earliest start (the end of what other streams scheduled)
   * @returns {{startFrame: number, start: number, duration: number, underrun: boolean}}
   */
  place(frames, nowSeconds, notBeforeFrame = 0) {
    const nowFrame = Math.ceil(nowSeconds * this.sampleRate);
    let underrun = false;
    if (this.nextFrame === null) {
      this.nextFrame = Math.max(nowFrame + this.leadFrames, notBeforeFrame);
    } else if (this.nextFrame < nowFrame + this.marginFrames) {
      underrun = true;
      this.underruns += 1;
      this.nextFrame = Math.max(nowFrame + this.leadFrames, notBeforeFrame);
    }
    const startFrame = this.nextFrame;
    this.nextFrame += frames;
    return {
      startFrame,
      start: startFrame / this.sampleRate,
      duration: frames / this.sampleRate,
      underrun,
    };
  }

  /** The frame where this stream's scheduled audio ends (null before its first chunk). */
  get endFrame() {
    return this.nextFrame;
  }
}
