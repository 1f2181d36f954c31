// Captions: one line per `segment`, highlighted while its audio plays on the AudioContext clock.

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
    const item = { ctx, segment, text, start: null, end: null, state: "pending", highlighted: false, element };
    this.items.set(`${ctx}/${segment}`, item);
    this.log.push(item);
    return item;
  }

  /** A chunk of `segment` was scheduled over [start, end) seconds. */
  scheduled(ctx, segment, start, end) {
    const item = this.items.get(`${ctx}/${segment}`);
    if (!item) return;
    item.start = item.start === null ? start : Math.min(item.start, start);
    item.end = item.end === null ? end : Math.max(item.end, end);
  }

  /** The stream was cancelled: what has not been played yet never will be. */
  cancel(ctx) {
    for (const item of this.items.values()) {
      if (item.ctx === ctx && item.state !== "played") this.#set(item, "cancelled");
    }
  }

  /** Move the highlight to what plays at `now` (AudioContext seconds). */
  tick(now) {
    for (const item of this.items.values()) {
      if (item.state === "cancelled" || item.state === "played" || item.start === null) continue;
      const state = now < item.start ? "queued" : now < item.end ? "playing" : "played";
      if (state === "playing") item.highlighted = true;
      this.#set(item, state);
    }
  }

  #set(item, state) {
    if (item.state === state) return;
    item.element.classList.remove(item.state);
    item.element.classList.add(state);
    item.state = state;
  }
}
