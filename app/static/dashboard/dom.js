// Small DOM helpers. Every value from the API enters the page as text (textContent, attributes),
// never as HTML, so a job's params or error cannot inject markup.

/** h("td", {class: "num", dataset: {jobId: id}}, "text", childNode, ...) */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attrs);
  append(element, children);
  return element;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  append(element, children);
  return element;
}

function setAttributes(element, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything in ``element`` with ``children``. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function table(columns, rows, { empty = "Nothing to show", caption } = {}) {
  const head = h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column)));
  const body = rows.length ? rows : [h("tr", {}, h("td", { colSpan: columns.length, class: "empty" }, empty))];
  return h("div", { class: "table-wrap" }, h("table", {}, caption && h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, body)));
}

export function badge(status) {
  return h("span", { class: `badge status-${status}` }, status);
}

/** A progress bar that screen readers and tests can read (aria-valuenow, 0 to 100). */
export function progressBar(fraction, label) {
  const percent = Math.round(Math.max(0, Math.min(1, Number(fraction) || 0)) * 1000) / 10;
  const fillBar = h("div", { class: "progress-fill" });
  fillBar.style.width = percent + "%"; // CSSOM, allowed by the style-src policy (a style attribute is not)
  return h(
    "div",
    { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(percent), title: label || "" },
    fillBar,
    h("span", { class: "progress-text" }, `${percent}%${label ? " · " + label : ""}`),
  );
}

export function keyValues(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, value]) => value !== undefined && value !== null && value !== "").map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

export function pre(value) {
  return h("pre", { class: "code" }, typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

export function jobLink(id) {
  return h("a", { href: "#/jobs/" + encodeURIComponent(id), class: "mono" }, id);
}

export function batchLink(id) {
  return h("a", { href: "#/batches/" + encodeURIComponent(id), class: "mono" }, id);
}

// --- formatting

export function time(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "–";
  const s = Number(seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function since(iso) {
  return iso ? duration((Date.now() - new Date(iso).getTime()) / 1000) : "";
}

export function percent(part, whole) {
  return whole ? `${((100 * part) / whole).toFixed(1)} %` : "–";
}

/**
 * Run ``task`` now and then ``ms`` after each run ends (never two at once), until the returned
 * function is called. Polling rather than a timer per second keeps a slow server from piling up calls.
 */
export function every(ms, task) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    if (stopped) return;
    try {
      await task();
    } finally {
      if (!stopped) timer = setTimeout(run, ms);
    }
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
