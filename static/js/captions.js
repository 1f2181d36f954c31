// Captions: one line per `segment`, highlighted while its audio plays on the AudioContext clock;
// with word timestamps, the word playing is highlighted inside it.

import { wordPieces } from "./config.js";

export class CaptionTrack {
  /** @param {HTMLElement} list the element captions are appended to */
  constructor(list) {
    this.list = list;
    this.items = new Map(); // "ctx/segment" -> item
    this.log = []; // every item, in arrival order (test hook)
  }

  /** A `segment` message arrived: show its text, not yet playing. */
  add(ctx, segment, text) {
    const element = document.createElement("li");
    element.className = "caption pending";
    element.dataset.ctx = ctx;
    element.dataset.segment = String(segment);
    element.textContent = text;
    this.list.append(element);
    element.scrollIntoView({ block: "nearest" });
    const item = {
      ctx, segment, text, start: null, end: null, state: "pending", highlighted: false, element,
      words: [], // {text, start_ms, end_ms, char_start, char_end, start, end (AudioContext s), state, highlighted, element}
      source: null,
      chunks: [], // {timestamp_ms, duration_ms, start}: where the segment's timeline lies on the audio clock
    };
    this.items.set(`${ctx}/${segment}`, item);
    this.log.push(item);
    return item;
  }

  /** A chunk was scheduled (a player entry: ctx, segment, timestamp_ms, duration_ms, start, duration). */
  scheduled(entry) {
    const item = this.items.get(`${entry.ctx}/${entry.segment}`);
    if (!item) return;
    const end = entry.start + entry.duration;
    item.start = item.start === null ? entry.start : Math.min(item.start, entry.start);
    item.end = item.end === null ? end : Math.max(item.end, end);
    if (entry.duration > 0) {
      item.chunks.push({ timestamp_ms: entry.timestamp_ms, duration_ms: entry.duration_ms, start: entry.start });
      this.#placeWords(item);
    }
  }

  /** A `words` message: the caption's text becomes one span per word, highlighted as it plays. */
  words(ctx, segment, words, source) {
    const item = this.items.get(`${ctx}/${segment}`);
    if (!item) return;
    item.source = source;
    const spans = [];
    const nodes = wordPieces(item.text, words).map((piece) => {
      if (piece.word === null) return document.createTextNode(piece.text);
      const span = document.createElement("span");
      span.className = "word";
      span.textContent = piece.text;
      spans[piece.word] = span;
      return span;
    });
    item.element.replaceChildren(...nodes);
    item.element.title = `word times: ${source}`;
    item.words = words.map((word, index) => ({
      ...word, start: null, end: null, state: "pending", highlighted: false, element: spans[index],
    }));
    this.#placeWords(item);
  }

  /** Word times (the context's timeline, ms) on the audio clock, through the chunk that holds each. */
  #placeWords(item) {
    if (!item.chunks.length) return;
    const toClock = (ms) => {
      const chunk = item.chunks.findLast((c) => c.timestamp_ms <= ms + 1e-6) ?? item.chunks[0];
      return chunk.start + (ms - chunk.timestamp_ms) / 1000;
    };
    for (const word of item.words) {
      word.start = toClock(word.start_ms);
      word.end = toClock(word.end_ms);
    }
  }

  /** The stream was cancelled: what has not been played yet never will be. */
  cancel(ctx) {
    for (const item of this.items.values()) {
      if (item.ctx === ctx && item.state !== "played") {
        this.#set(item, "cancelled");
        for (const word of item.words) if (word.state !== "played") this.#setWord(word, "cancelled");
      }
    }
  }

  /** Move the highlight to what plays at `now` (AudioContext seconds). */
  tick(now) {
    for (const item of this.items.values()) {
      if (item.state === "cancelled" || item.state === "played" || item.start === null) continue;
      const state = now < item.start ? "queued" : now < item.end ? "playing" : "played";
      if (state === "playing") item.highlighted = true;
      this.#set(item, state);
      for (const word of item.words) {
        if (word.start === null || word.state === "played") continue;
        const wordState = now < word.start ? "queued" : now < word.end ? "playing" : "played";
        if (wordState === "playing") word.highlighted = true;
        this.#setWord(word, wordState);
      }
    }
  }

  /** The word playing at `now`, as {ctx, segment, text}, or null (test hook and display). */
  current() {
    for (const item of this.items.values()) {
      const word = item.words.find((w) => w.state === "playing");
      if (word) return { ctx: item.ctx, segment: item.segment, text: word.text };
    }
    return null;
  }

  #setWord(word, state) {
    if (word.state === state) return;
    word.element?.classList.remove(word.state);
    word.element?.classList.add(state);
    word.state = state;
  }

  #set(item, state) {
    if (item.state === state) return;
    item.element.classList.remove(item.state);
    item.element.classList.add(state);
    item.state = state;
  }
}
