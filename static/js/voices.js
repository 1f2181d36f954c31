// Saved voices over the HTTP API (/v1/voices): list, create from reference audio, delete.
// The page only asks; the server validates and its error message is shown as it comes.

/** Bytes as base64 (the API takes reference audio as base64 in JSON). */
export function toBase64(bytes) {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(binary);
}

/** The body of `POST /v1/voices` for a clone from the form's values. */
export function cloneBody({ name, audio, refText, xVectorOnly }) {
  const body = { name: name.trim(), ref_audio: audio ? toBase64(audio) : "" };
  if (xVectorOnly) body.x_vector_only = true;
  else if (refText.trim()) body.ref_text = refText.trim();
  return body;
}

async function call(method, path, headers, body) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/v1/voices${path}`, init);
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const error = payload?.error;
    const text = error ? `${error.code} (${response.status}): ${error.message}` : `HTTP ${response.status}`;
    throw new Error(text);
  }
  return payload;
}

/** Every saved voice of this key, oldest first (following the pages). */
export async function listSavedVoices(headers) {
  const voices = [];
  let after = null;
  for (;;) {
    const query = after ? `?limit=100&after=${encodeURIComponent(after)}` : "?limit=100";
    const page = await call("GET", query, headers);
    voices.push(...page.data);
    if (!page.has_more) return voices;
    after = page.last_id;
  }
}

export function createSavedVoice(headers, values) {
  return call("POST", "", headers, cloneBody(values));
}

export function deleteSavedVoice(headers, id) {
  return call("DELETE", `/${encodeURIComponent(id)}`, headers);
}
