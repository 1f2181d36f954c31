// The voice console: the form, the socket, and what comes back (audio, captions, timings, errors).
//
// Each line the user enters is pushed at once as a `text` message to the current stream (a
// context named line-1, line-2, ...). End or Cancel closes that stream; the next line opens a
// new one, so a line typed while the server is still finishing never lands in a closing stream.

import { CaptionTrack } from "./captions.js";
import { SUBPROTOCOL, buildSessionStart, codePointLength, normalizeModels, realtimeUrl } from "./config.js";
import { LevelMeter } from "./meter.js";
import { PcmStreamDecoder } from "./pcm.js";
import { StreamPlayer } from "./player.js";
import { ReferenceRecorder, readReferenceFile } from "./reference.js";
import { createSavedVoice, deleteSavedVoice, listSavedVoices } from "./voices.js";

const MSGPACK_URL = "/vendor/msgpack/index.mjs";
const JITTER_BUFFER_SECONDS = 0.15;
const LOG_LINES = 200;

const $ = (id) => document.getElementById(id);

let codec = null; // {encode, decode} from @msgpack/msgpack
let models = null; // from GET /v1/models, or null when the server has no such route
let referenceAudio = null; // Uint8Array
const recorder = new ReferenceRecorder();
let voiceAudio = null; // Uint8Array: the saved-voice panel's reference audio
const voiceRecorder = new ReferenceRecorder();
let session = null;

// What the browser tests read: plain data, updated as things happen.
const hook = {
  library: "loading", // "ok" | "missing"
  state: "idle", // "connecting" | "ready" | "closed"
  ready: null,
  received: [], // every audio message: {ctx, seq, segment, bytes, timestamp_ms, duration_ms, is_last}
  lines: [],
  errors: [],
  notices: [], // the text of every `notice` (settings a model ignores, segments cut short)
  done: [],
  flushed: [], // ctx of every `flushed`
  cancels: [], // {at: performance.now(), scheduledBefore}
  closed: null, // {code, reason}
  get scheduled() {
    return session ? session.player.scheduled : [];
  },
  get captions() {
    return session
      ? session.captions.log.map(({ element, words, ...item }) => ({ ...item, words: words.map(({ element: _, ...word }) => word) }))
      : [];
  },
  get currentWord() {
    return session ? session.captions.current() : null;
  },
  get activeSources() {
    return session ? session.player.activeSources : 0;
  },
  get dropped() {
    return session ? session.player.dropped : 0;
  },
  get underruns() {
    return session ? session.player.underruns : 0;
  },
  get recordingSeconds() {
    return recorder.seconds;
  },
  referenceBytes: 0,
  savedVoices: [], // {id, name, source} as GET /v1/voices lists them
  voiceBytes: 0, // the saved-voice panel's reference audio
  voiceStatus: "", // the panel's last message (created, deleted, or the server's error)
  voicesLoaded: 0, // how many times the list was loaded
  get audio() {
    if (!session) return null;
    const ac = session.audioContext;
    const { level, peakLevel } = session.meter;
    return { state: ac.state, currentTime: ac.currentTime, sampleRate: ac.sampleRate, level, peakLevel };
  },
};
window.__ttsConsole = hook;

// ---------------------------------------------------------------------------------------------
// Start-up: the msgpack library, the model list, the form.

async function loadLibrary() {
  try {
    codec = await import(MSGPACK_URL);
    hook.library = "ok";
  } catch (error) {
    let explanation = "";
    try {
      const response = await fetch(MSGPACK_URL);
      if (!response.ok) explanation = await response.text();
    } catch {
      // the server is gone; the import error says enough
    }
    showError(explanation || `The msgpack library could not be loaded from ${MSGPACK_URL}: ${error.message}`);
    $("connect").disabled = true;
    hook.library = "missing";
  }
}

async function loadModels() {
  try {
    const response = await fetch("/v1/models", { headers: authHeaders() });
    if (!response.ok) return; // 404 before the HTTP API exists, 401 with keys: use session.ready
    models = normalizeModels(await response.json());
  } catch {
    models = null;
  }
  fillModels();
}

function authHeaders() {
  const token = $("token").value;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function fillModels() {
  const select = $("model");
  const mode = $("mode").value;
  const chosen = select.value;
  select.replaceChildren(new Option("server default for the mode", ""));
  for (const model of models ?? []) {
    if (model.modes.length === 0 || model.modes.includes(mode)) select.add(new Option(model.name, model.name));
  }
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
  fillVoiceLists();
}

function fillVoiceLists() {
  const name = $("model").value;
  const mode = $("mode").value;
  const relevant = (models ?? []).filter((m) => (name ? m.name === name : m.modes.length === 0 || m.modes.includes(mode)));
  setOptions($("speakers"), relevant.flatMap((m) => m.speakers));
  setOptions($("languages"), ["auto", ...relevant.flatMap((m) => m.languages)]);
}

function setOptions(datalist, values) {
  datalist.replaceChildren(...[...new Set(values)].map((value) => new Option(value, value)));
}

function showModeFields() {
  const mode = $("mode").value;
  for (const element of document.querySelectorAll("[data-modes]")) {
    element.hidden = !element.dataset.modes.split(" ").includes(mode);
  }
  $("instruct-label").textContent = mode === "voice_design" ? "Voice description" : "Style (optional)";
  $("instruct").placeholder = mode === "voice_design" ? "e.g. a warm, low voice, speaking slowly" : "e.g. calm, slightly amused";
  fillModels();
}

function formValues() {
  return {
    savedVoice: $("saved-voice").value,
    mode: $("mode").value,
    model: $("model").value,
    speaker: $("speaker").value,
    instruct: $("instruct").value,
    refAudio: referenceAudio,
    refText: $("ref-text").value,
    xVectorOnly: $("x-vector-only").checked,
    language: $("language").value,
    seed: $("seed").value,
    format: $("format").value,
    sampleRate: $("sample-rate").value,
    segmentation: $("segmentation").value,
    timestamps: $("timestamps").value,
    token: $("token").value,
  };
}

// ---------------------------------------------------------------------------------------------
// The session.

async function connect() {
  if (!codec) return;
  disconnect();
  clearErrors();
  const values = formValues();
  const start = buildSessionStart(values);
  // Created on the user's click, so the autoplay policy lets it run; at the stream's own rate,
  // so chunks join on exact sample frames.
  const audioContext = new AudioContext({ sampleRate: Number(values.sampleRate), latencyHint: "interactive" });
  await audioContext.resume();
  const analyser = audioContext.createAnalyser();
  analyser.fftSize = 2048;
  analyser.connect(audioContext.destination);
  $("captions").replaceChildren();
  $("lines").tBodies[0].replaceChildren();
  const socket = new WebSocket(realtimeUrl(window.location), [SUBPROTOCOL]);
  socket.binaryType = "arraybuffer";
  const current = {
    socket,
    audioContext,
    format: start.format ?? "pcm",
    player: null,
    meter: new LevelMeter(analyser, $("wave"), $("level")),
    captions: new CaptionTrack($("captions")),
    decoders: new Map(), // ctx -> PcmStreamDecoder
    streams: new Map(), // ctx -> {length (code points sent), lines, done}
    currentCtx: null,
    streamCount: 0,
    segmentLines: new Map(), // "ctx/segment" -> line
    fatalCode: null,
  };
  current.player = new StreamPlayer(audioContext, analyser, {
    leadSeconds: JITTER_BUFFER_SECONDS,
    onScheduled: (entry) => current.captions.scheduled(entry),
  });
  session = current;
  Object.assign(hook, { state: "connecting", ready: null, closed: null });
  for (const list of [hook.received, hook.lines, hook.errors, hook.done, hook.flushed, hook.cancels]) list.length = 0;
  setStatus("connecting", "connecting…");
  socket.onopen = () => send(start);
  socket.onmessage = (event) => {
    if (session === current) receive(codec.decode(new Uint8Array(event.data)));
  };
  socket.onclose = (event) => {
    if (session === current) closed(event);
  };
  updateButtons();
}

function disconnect() {
  if (!session) return;
  const old = session;
  session = null;
  old.player.cancelAll();
  if (old.socket.readyState <= WebSocket.OPEN) old.socket.close(1000, "disconnect");
  old.audioContext.close();
  hook.state = "closed";
  setStatus("idle", "not connected");
  updateButtons();
}

function send(message) {
  if (!session || session.socket.readyState !== WebSocket.OPEN) return false;
  session.socket.send(codec.encode(message));
  logMessage("→", message);
  return true;
}

function receive(message) {
  if (message.type !== "audio") logMessage("←", message);
  switch (message.type) {
    case "session.ready":
      return ready(message);
    case "segment":
      return segment(message);
    case "words":
      return session.captions.words(message.ctx, message.segment, message.words, message.source);
    case "audio":
      return audio(message);
    case "done":
      return done(message);
    case "cancelled":
      return session.captions.cancel(message.ctx);
    case "flushed":
      return hook.flushed.push(message.ctx);
    case "error":
      return serverError(message);
    case "notice":
      return showNotice(message);
    default:
      return undefined; // pong: the log shows it
  }
}

function ready(message) {
  hook.ready = message;
  hook.state = "ready";
  if (message.sample_rate !== session.audioContext.sampleRate) {
    showError(`The server streams at ${message.sample_rate} Hz, not the ${session.audioContext.sampleRate} Hz asked for.`);
  }
  $("effective-model").textContent = `${message.model} (${message.mode})`;
  $("effective-speaker").textContent = message.speaker ?? "–";
  $("effective-seed").textContent = String(message.seed);
  $("effective-audio").textContent = `${message.format}, ${message.sample_rate} Hz, ${message.segmentation} segmentation`;
  if (!models) {
    // No model list from the server: offer at least what this session runs on.
    models = [{ name: message.model, modes: [message.mode], speakers: message.speaker ? [message.speaker] : [], languages: [] }];
    fillModels();
  }
  setStatus("ready", `connected · session ${message.session_id}`);
  updateButtons();
  $("line-input").focus();
}

function segment(message) {
  const stream = session.streams.get(message.ctx);
  const line = stream?.lines.findLast((candidate) => candidate.charStart <= message.char_start);
  if (line) session.segmentLines.set(`${message.ctx}/${message.segment}`, line);
  session.captions.add(message.ctx, message.segment, message.text);
}

function audio(message) {
  const data = message.data ?? new Uint8Array(0);
  hook.received.push({
    ctx: message.ctx,
    seq: message.seq,
    segment: message.segment,
    bytes: data.length,
    timestamp_ms: message.timestamp_ms,
    duration_ms: message.duration_ms,
    is_last: message.is_last,
    at: performance.now(),
  });
  const { player } = session;
  if (player.isFenced(message.ctx)) {
    player.play(message.ctx, new Float32Array(0)); // counted as dropped
    return;
  }
  const line = session.segmentLines.get(`${message.ctx}/${message.segment}`);
  if (line && line.ttfaMs === null && data.length > 0) {
    line.ttfaMs = performance.now() - line.sentAt;
    line.row.cells[2].textContent = `${line.ttfaMs.toFixed(0)} ms`;
  }
  let decoder = session.decoders.get(message.ctx);
  if (!decoder) {
    decoder = new PcmStreamDecoder(session.format);
    session.decoders.set(message.ctx, decoder);
  }
  let samples;
  try {
    samples = decoder.push(data);
  } catch (error) {
    showError(`Audio of ${message.ctx} cannot be played: ${error.message}`);
    return;
  }
  player.play(message.ctx, samples, {
    seq: message.seq,
    segment: message.segment,
    timestamp_ms: message.timestamp_ms,
    duration_ms: message.duration_ms,
  });
  if (message.is_last) player.finish(message.ctx);
}

function done(message) {
  hook.done.push({ ...message });
  const stream = session.streams.get(message.ctx);
  if (stream) {
    stream.done = true;
    for (const line of stream.lines) {
      line.serverTtfaMs = message.ttfa_ms ?? null;
      line.row.cells[3].textContent = message.ttfa_ms == null ? `– (${message.reason})` : `${Number(message.ttfa_ms).toFixed(0)} ms`;
    }
  }
  session.decoders.delete(message.ctx);
  session.player.finish(message.ctx);
  if (session.currentCtx === message.ctx) session.currentCtx = null;
  $("effective-seed").textContent = String(message.seed);
  updateButtons();
}

function serverError(message) {
  if (message.fatal) session.fatalCode = message.code;
  showError(describeError(message));
}

function closed(event) {
  hook.closed = { code: event.code, reason: event.reason };
  hook.state = "closed";
  session.player.cancelAll();
  if (event.code === 1006 && hook.ready === null) {
    showError("Could not reach the server's WebSocket (/v1/realtime).");
  } else if (event.code !== 1000 && event.code !== 1005 && event.code !== session.fatalCode) {
    showError(`The connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""}).`);
  }
  setStatus("closed", `closed (${event.code})`);
  updateButtons();
}

// ---------------------------------------------------------------------------------------------
// Speaking.

function sendLines(text) {
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() !== "") sendLine(line);
  }
}

function sendLine(text) {
  if (!session || hook.state !== "ready") return;
  if (session.currentCtx === null) {
    session.streamCount += 1;
    session.currentCtx = `line-${session.streamCount}`;
    session.streams.set(session.currentCtx, { length: 0, lines: [], done: false });
  }
  const ctx = session.currentCtx;
  const stream = session.streams.get(ctx);
  const payload = `${text}\n`; // the newline ends the segment, so the line speaks now
  const row = $("lines").tBodies[0].insertRow();
  for (const value of [ctx, text, "…", ""]) row.insertCell().textContent = value;
  const line = { ctx, text, charStart: stream.length, sentAt: performance.now(), ttfaMs: null, serverTtfaMs: null, row };
  stream.length += codePointLength(payload);
  stream.lines.push(line);
  hook.lines.push(line);
  send({ type: "text", ctx, text: payload });
  updateButtons();
}

function flush() {
  if (session?.currentCtx) send({ type: "flush", ctx: session.currentCtx });
}

function end() {
  if (!session?.currentCtx) return;
  send({ type: "end", ctx: session.currentCtx });
  session.currentCtx = null;
  updateButtons();
}

/** Barge-in: silence everything now, and tell the server to stop every stream. */
function cancel() {
  if (!session) return;
  hook.cancels.push({ at: performance.now(), scheduledBefore: session.player.scheduled.length });
  for (const [ctx, stream] of session.streams) {
    if (!stream.done) {
      session.player.cancel(ctx);
      session.captions.cancel(ctx);
    }
  }
  session.player.cancelAll();
  send({ type: "cancel", ctx: "*" });
  session.currentCtx = null;
  updateButtons();
}

// ---------------------------------------------------------------------------------------------
// Reference audio.

async function pickReference(event) {
  const [file] = event.target.files;
  if (!file) return;
  referenceAudio = await readReferenceFile(file);
  hook.referenceBytes = referenceAudio.length;
  $("ref-status").textContent = `${file.name}, ${(referenceAudio.length / 1024).toFixed(0)} KiB`;
}

async function toggleRecording() {
  const button = $("ref-record");
  try {
    if (!recorder.recording) {
      await recorder.start();
      button.textContent = "Stop";
      $("ref-status").textContent = "recording…";
      return;
    }
    const { bytes, mimeType } = await recorder.stop();
    referenceAudio = bytes;
    hook.referenceBytes = bytes.length;
    button.textContent = "Record";
    $("ref-status").textContent = `recorded ${mimeType || "audio"}, ${(bytes.length / 1024).toFixed(0)} KiB`;
  } catch (error) {
    button.textContent = "Record";
    showError(`Recording failed: ${error.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Saved voices (/v1/voices).

function setVoiceStatus(text) {
  hook.voiceStatus = text;
  $("voice-status").textContent = text;
}

async function refreshVoices() {
  let voices = [];
  try {
    voices = await listSavedVoices(authHeaders());
  } catch (error) {
    setVoiceStatus(`Saved voices: ${error.message}`);
  }
  hook.savedVoices = voices.map(({ id, name, source }) => ({ id, name, source }));
  const select = $("saved-voice");
  const chosen = select.value;
  select.replaceChildren(new Option("none: use the fields below", ""));
  for (const voice of voices) select.add(new Option(`${voice.name} (${voice.source})`, voice.id));
  select.value = voices.some((voice) => voice.id === chosen) ? chosen : "";
  showSavedVoiceChoice();
  const rows = voices.map((voice) => {
    const row = document.createElement("tr");
    row.dataset.voice = voice.id;
    for (const text of [voice.name, voice.id, voice.source]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const actions = document.createElement("td");
    const speak = document.createElement("button");
    speak.type = "button";
    speak.className = "voice-speak";
    speak.textContent = "Speak with it";
    speak.addEventListener("click", () => speakWith(voice.id));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "voice-delete";
    remove.textContent = "Delete";
    remove.addEventListener("click", () => removeVoice(voice));
    actions.append(speak, remove);
    row.append(actions);
    return row;
  });
  $("voice-list").tBodies[0].replaceChildren(...rows);
  hook.voicesLoaded += 1;
}

function showSavedVoiceChoice() {
  const saved = $("saved-voice").value !== "";
  $("mode").disabled = saved; // a saved voice fixes the mode and the model
  $("model").disabled = saved;
}

async function createVoice() {
  setVoiceStatus("creating…");
  try {
    const voice = await createSavedVoice(authHeaders(), {
      name: $("voice-name").value,
      audio: voiceAudio,
      refText: $("voice-ref-text").value,
      xVectorOnly: $("voice-x-vector-only").checked,
    });
    setVoiceStatus(`created ${voice.name} (${voice.id})`);
  } catch (error) {
    setVoiceStatus(`Not created: ${error.message}`);
  }
  await refreshVoices();
}

async function removeVoice(voice) {
  try {
    await deleteSavedVoice(authHeaders(), voice.id);
    setVoiceStatus(`deleted ${voice.name}`);
  } catch (error) {
    setVoiceStatus(`Not deleted: ${error.message}`);
  }
  await refreshVoices();
}

function speakWith(id) {
  $("saved-voice").value = id;
  showSavedVoiceChoice();
  connect().catch((error) => showError(`Could not start: ${error.message}`));
}

async function pickVoiceFile(event) {
  const [file] = event.target.files;
  if (!file) return;
  voiceAudio = await readReferenceFile(file);
  hook.voiceBytes = voiceAudio.length;
  $("voice-ref-status").textContent = `${file.name}, ${(voiceAudio.length / 1024).toFixed(0)} KiB`;
}

async function toggleVoiceRecording() {
  const button = $("voice-record");
  try {
    if (!voiceRecorder.recording) {
      await voiceRecorder.start();
      button.textContent = "Stop";
      $("voice-ref-status").textContent = "recording…";
      return;
    }
    const { bytes, mimeType } = await voiceRecorder.stop();
    voiceAudio = bytes;
    hook.voiceBytes = bytes.length;
    button.textContent = "Record";
    $("voice-ref-status").textContent = `recorded ${mimeType || "audio"}, ${(bytes.length / 1024).toFixed(0)} KiB`;
  } catch (error) {
    button.textContent = "Record";
    setVoiceStatus(`Recording failed: ${error.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Display.

function describeError(message) {
  const where = message.ctx ? ` in ${message.ctx}` : "";
  const fatal = message.fatal ? ", the session is closed" : "";
  return `${message.name} (${message.code}${fatal})${where}: ${message.message}`;
}

function showError(text) {
  hook.errors.push(text);
  const item = document.createElement("li");
  item.textContent = text;
  $("errors").append(item);
}

function clearErrors() {
  $("errors").replaceChildren();
  $("notices").replaceChildren();
}

/** A `notice`: not an error, but something the person should know (e.g. the model ignores the style). */
function showNotice(message) {
  const where = message.ctx ? ` (${message.ctx}${message.segment !== undefined ? `, segment ${message.segment}` : ""})` : "";
  const text = `${message.message}${where}`;
  hook.notices.push(text);
  const item = document.createElement("li");
  item.textContent = text;
  $("notices").append(item);
}

function setStatus(kind, text) {
  const status = $("status");
  status.className = `status ${kind}`;
  status.textContent = text;
}

function updateButtons() {
  const live = session !== null && hook.state === "ready";
  $("disconnect").disabled = session === null;
  $("line-input").disabled = !live;
  $("send").disabled = !live;
  $("cancel").disabled = !live;
  $("flush").disabled = !live || !session.currentCtx;
  $("end").disabled = !live || !session.currentCtx;
}

function logMessage(direction, message) {
  const shown = {};
  for (const [key, value] of Object.entries(message)) {
    shown[key] = value instanceof Uint8Array ? `<${value.length} bytes>` : value;
  }
  const log = $("log");
  log.textContent += `${direction} ${JSON.stringify(shown)}\n`;
  const lines = log.textContent.split("\n");
  if (lines.length > LOG_LINES) log.textContent = lines.slice(-LOG_LINES).join("\n");
}

function frame() {
  if (session) {
    session.captions.tick(session.audioContext.currentTime);
    session.meter.draw();
  }
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------------------------------------
// Wiring.

$("settings").addEventListener("submit", (event) => {
  event.preventDefault();
  connect().catch((error) => showError(`Could not start: ${error.message}`));
});
$("disconnect").addEventListener("click", disconnect);
$("mode").addEventListener("change", showModeFields);
$("model").addEventListener("change", fillVoiceLists);
$("token").addEventListener("change", () => {
  loadModels(); // a server with keys lists its models (and saved voices) only to a key
  refreshVoices();
});
$("saved-voice").addEventListener("change", showSavedVoiceChoice);
$("voice-create").addEventListener("submit", (event) => {
  event.preventDefault();
  createVoice();
});
$("voice-file").addEventListener("change", (event) => pickVoiceFile(event).catch((error) => setVoiceStatus(error.message)));
$("voice-record").addEventListener("click", toggleVoiceRecording);
$("ref-file").addEventListener("change", (event) => pickReference(event).catch((error) => showError(error.message)));
$("ref-record").addEventListener("click", toggleRecording);
$("line-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    sendLines(event.target.value);
    event.target.value = "";
  }
});
$("line-input").addEventListener("paste", (event) => {
  const text = event.clipboardData?.getData("text") ?? "";
  if (!text.includes("\n")) return; // one line: it is sent on Enter
  event.preventDefault();
  const pieces = text.split(/\r?\n/);
  const unfinished = pieces.pop(); // the part after the last newline stays in the box
  sendLines(event.target.value + pieces.join("\n"));
  event.target.value = unfinished;
});
$("send").addEventListener("click", () => {
  sendLines($("line-input").value);
  $("line-input").value = "";
});
$("flush").addEventListener("click", flush);
$("cancel").addEventListener("click", cancel);
$("end").addEventListener("click", end);

showModeFields();
updateButtons();
requestAnimationFrame(frame);
await loadLibrary();
await loadModels();
await refreshVoices();
