// A live waveform and level meter drawn from an AnalyserNode on a canvas.

export class LevelMeter {
  /** @param {AnalyserNode} analyser @param {HTMLCanvasElement} canvas @param {HTMLMeterElement} meter */
  constructor(analyser, canvas, meter) {
    this.analyser = analyser;
    this.canvas = canvas;
    this.meter = meter;
    this.samples = new Float32Array(analyser.fftSize);
    this.level = 0; // RMS of the last frame drawn
    this.peakLevel = 0; // highest RMS seen (test hook: audio really flowed through the graph)
  }

  draw() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const value of this.samples) sum += value * value;
    this.level = Math.sqrt(sum / this.samples.length);
    this.peakLevel = Math.max(this.peakLevel, this.level);
    this.meter.value = Math.min(1, this.level * 4);

    const { width, height } = this.canvas;
    const g = this.canvas.getContext("2d");
    g.clearRect(0, 0, width, height);
    g.strokeStyle = getComputedStyle(this.canvas).color;
    g.lineWidth = 1.5;
    g.beginPath();
    const step = this.samples.length / width;
    for (let x = 0; x < width; x++) {
      const y = (0.5 - this.samples[Math.floor(x * step)] / 2) * height;
      if (x === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    }
    g.stroke();
  }
}
