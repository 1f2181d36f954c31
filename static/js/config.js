// Pure helpers between the form and the protocol: the `session.start` message, the model list.

export const SUBPROTOCOL = "tts.v1.msgpack";
export const MODES = ["custom_voice", "voice_clone", "voice_design"];
export const SAMPLE_RATES = [8000, 16000, 22050, 24000, 44100, 48000];

/** The socket URL of the server that served this page. */
export function realtimeUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/realtime`;
}

/**
 * Build `session.start` from the form's values. Only what applies to the mode is sent, and
 * nothing is validated here: the server judges the whole message at once and its error, shown
 * as it comes, is the one truth about what is wrong.
 */
export function buildSessionStart(values) {
  const start = { type: "session.start" };
  const put = (key, value) => {
    if (value !== undefined && value !== null && value !== "") start[key] = value;
  };
  if (values.savedVoice) {
    start.voice = values.savedVoice; // a saved voice fixes mode and model; no speaker fields go with it
  } else {
    start.mode = values.mode;
    put("model", values.model);
  }
  if (values.savedVoice) {
    // nothing more about the voice
  } else if (values.mode === "custom_voice") {
    put("speaker", values.speaker.trim());
    put("instruct", values.instruct.trim());
  } else if (values.mode === "voice_design") {
    put("instruct", values.instruct.trim());
  } else if (values.mode === "voice_clone") {
    put("ref_audio", values.refAudio);
    put("ref_text", values.refText.trim());
    if (values.xVectorOnly) start.x_vector_only = true;
  }
  put("language", values.language.trim());
  put("seed", parseSeed(values.seed));
  put("format", values.format);
  put("sample_rate", Number(values.sampleRate));
  put("segmentation", values.segmentation);
  put("timestamps", values.timestamps);
  put("token", values.token);
  return start;
}

/** A whole number becomes a number; anything else is passed on for the server to refuse. */
export function parseSeed(text) {
  const trimmed = String(text ?? "").trim();
  if (trimmed === "") return undefined;
  return /^\d+$/.test(trimmed) && Number.isSafeInteger(Number(trimmed)) ? Number(trimmed) : trimmed;
}

/**
 * The models `GET /v1/models` lists, as {name, modes, speakers, languages}. Accepts the OpenAI
 * list shape ({data: [{id, ...}]}) and plain lists; fields the server does not give are empty.
 */
export function normalizeModels(body) {
  const list = Array.isArray(body) ? body : Array.isArray(body?.data) ? body.data : Array.isArray(body?.models) ? body.models : [];
  return list
    .map((model) => ({
      name: model?.id ?? model?.name,
      modes: arrayOf(model?.modes),
      speakers: arrayOf(model?.speakers ?? model?.voices),
      languages: arrayOf(model?.languages),
    }))
    .filter((model) => typeof model.name === "string" && model.name !== "");
}

function arrayOf(value) {
  if (!Array.isArray(value)) return [];
  return value
    .map((item) => (typeof item === "string" ? item : item?.id ?? item?.name))
    .filter((item) => typeof item === "string");
}

/**
 * Cut `text` into the server's words and what lies between them: [{text, word}] in order, where
 * `word` is the index into `words` or null. Offsets count code points, as the server does.
 */
export function wordPieces(text, words) {
  const points = Array.from(text);
  const pieces = [];
  let at = 0;
  words.forEach((word, index) => {
    const start = Math.max(at, Math.min(word.char_start, points.length));
    const end = Math.max(start, Math.min(word.char_end, points.length));
    if (start > at) pieces.push({ text: points.slice(at, start).join(""), word: null });
    pieces.push({ text: points.slice(start, end).join(""), word: index });
    at = end;
  });
  if (at < points.length) pieces.push({ text: points.slice(at).join(""), word: null });
  return pieces;
}

/** Code points, as the server counts `char_start` / `char_end` (Python str indices). */
export function codePointLength(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}
