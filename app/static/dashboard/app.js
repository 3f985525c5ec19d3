// The dashboard: asks for an admin key when the API needs one, then shows the view the URL's
// fragment names (#/, #/jobs, #/jobs/<id>, #/workers, #/batches, #/batches/<id>).

import { ApiError, call, storedKey, storeKey } from "./api.js";
import { showBatch, showBatches } from "./batches.js";
import { fill, h } from "./dom.js";
import { showJob } from "./job.js";
import { showJobs } from "./jobs.js";
import { showOverview } from "./overview.js";
import { showWorkers } from "./workers.js";

const gate = document.getElementById("gate");
const gateMessage = document.getElementById("gate-message");
const view = document.getElementById("view");
const nav = document.getElementById("nav");
const signOut = document.getElementById("sign-out");
const notice = document.getElementById("notice");

let stopView = () => {};
let open = false;

const ROUTES = [
  [/^\/?$/, "overview", () => showOverview],
  [/^\/jobs$/, "jobs", () => showJobs],
  [/^\/jobs\/(.+)$/, "jobs", () => showJob],
  [/^\/workers$/, "workers", () => showWorkers],
  [/^\/batches$/, "batches", () => showBatches],
  [/^\/batches\/(.+)$/, "batches", () => showBatch],
];

/** What every view gets: where to draw, how to report an error, how to say something briefly. */
const context = {
  fail(error) {
    if (error && error.name === "AbortError") return;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      lock(refusal(error));
      return;
    }
    say(error instanceof ApiError ? `${error.code}: ${error.message}` : String(error), "error");
  },
  say,
};

function say(text, kind = "info") {
  fill(notice, text);
  notice.className = "notice " + kind;
  notice.hidden = !text;
}

function refusal(error) {
  if (error.status === 403) {
    return "This key is not an admin key: the dashboard needs an admin key (ADMIN_API_KEYS, or `functionalscaffold keys create --admin`).";
  }
  return storedKey() ? "That key was not accepted. Enter an admin API key." : "This platform requires an API key. Enter an admin API key to open the dashboard.";
}

/** Show only the key prompt: no view, no navigation, no data left on the page. */
function lock(message) {
  open = false;
  stopView();
  stopView = () => {};
  fill(view);
  view.hidden = true;
  nav.hidden = true;
  signOut.hidden = true;
  storeKey(""); // a refused key is not kept
  fill(gateMessage, message);
  gate.hidden = false;
  say("");
  document.getElementById("gate-key").focus();
}

/** Ask the admin-only /queues whether the current key (or none, on an open API) may see the platform. */
async function unlock() {
  try {
    await call("/queues");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      lock(refusal(error));
    } else {
      lock(`The API did not answer (${error.message}); try again.`);
    }
    return;
  }
  open = true;
  gate.hidden = true;
  nav.hidden = false;
  signOut.hidden = !storedKey();
  route();
}

function route() {
  if (!open) return;
  stopView();
  stopView = () => {};
  say("");
  const path = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  for (const [pattern, section, load] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    for (const link of nav.querySelectorAll("a")) {
      link.classList.toggle("current", link.dataset.section === section);
      if (link.dataset.section === section) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    fill(view);
    view.hidden = false;
    view.dataset.view = section;
    stopView = load()(view, context, ...match.slice(1)) || (() => {});
    return;
  }
  fill(view, h("p", {}, "No such page. ", h("a", { href: "#/" }, "Overview")));
}

document.getElementById("gate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("gate-key");
  storeKey(input.value.trim());
  input.value = "";
  unlock();
});

signOut.addEventListener("click", () => {
  storeKey("");
  lock("Key forgotten. Enter an admin API key to open the dashboard.");
});

window.addEventListener("hashchange", route);
unlock();
