// The dashboard's only way to the server: the public and admin API, same origin, with the operator's key.
//
// The key lives in sessionStorage (gone when the browser session ends) and travels only in the
// Authorization header: never in a URL, where it would reach logs and history. That is also why job
// events are read with fetch() and a stream reader rather than EventSource, which cannot send headers.

const KEY_ITEM = "functionalscaffold.adminKey";

export function storedKey() {
  return sessionStorage.getItem(KEY_ITEM) || "";
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

/** An API answer other than 2xx, in the API's one error shape ({error, message, details, ...}). */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || "HTTP_" + status;
    this.details = (body && body.details) || {};
  }
}

function headers(extra) {
  const all = { Accept: "application/json", ...extra };
  const key = storedKey();
  if (key) all.Authorization = "Bearer " + key;
  return all;
}

// The API's paths are relative to the server's root; the page may be served under /v1/dashboard/.
function apiUrl(path) {
  const prefix = location.pathname.startsWith("/v1/") ? "/v1" : "";
  return prefix + path;
}

/** GET (or another method) a JSON endpoint; resolves to the parsed body, rejects with ApiError. */
export async function call(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(apiUrl(path), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error: "NETWORK_ERROR", message: "The server did not answer" });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { message: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

/** A query string from the non-empty entries of ``params``. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

/**
 * Read a Server-Sent Events stream with the key in a header, calling onEvent({id, event, data}) for
 * each event. Resolves when the server ends the stream; rejects with ApiError for a non-2xx answer.
 * Pass lastEventId to resume after a dropped connection (the API then sends only what changed).
 */
export async function readEvents(path, { signal, lastEventId, onEvent }) {
  const extra = { Accept: "text/event-stream" };
  if (lastEventId) extra["Last-Event-ID"] = lastEventId;
  const response = await fetch(apiUrl(path), { headers: headers(extra), signal, cache: "no-store" });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.status, body);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseBlock(block);
      if (event) onEvent(event);
    }
  }
}

function parseBlock(block) {
  const event = { id: null, event: "message", data: "" };
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue; // a comment: the keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "data") data.push(value);
    else if (field === "event") event.event = value;
    else if (field === "id") event.id = value;
  }
  if (!data.length) return null;
  try {
    event.data = JSON.parse(data.join("\n"));
  } catch {
    event.data = data.join("\n");
  }
  return event;
}
