// Jobs: GET /jobs with filters and cursor paging, refreshed every second; search by job or batch id.

import { ApiError, call, query } from "./api.js";
import { badge, batchLink, every, fill, h, jobLink, progressBar, table, time } from "./dom.js";

const REFRESH_MS = 1000;
const STATUSES = ["scheduled", "pending", "running", "completed", "failed", "cancelled"];

// Kept while the page is open, so that coming back from a job shows the same filters and page.
const state = { filters: {}, limit: "20", cursors: [null] };

export function showJobs(view, context) {
  const search = h("input", { type: "search", id: "search-id", placeholder: "job id or batch id", "aria-label": "Job or batch id", autocomplete: "off" });
  const searchForm = h("form", { class: "search", role: "search" }, search, h("button", { type: "submit" }, "Find"));
  const form = filterForm();
  const listing = h("div", { id: "jobs-listing" });
  const pager = h("div", { class: "pager" });
  fill(view, h("h1", {}, "Jobs"), searchForm, form, listing, pager);

  searchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = search.value.trim();
    if (id) await find(id, context);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    state.filters = {
      status: data.get("status"),
      algorithm: data.get("algorithm"),
      owner: data.get("owner").trim(),
      created_after: isoFromLocal(data.get("created_after")),
      created_before: isoFromLocal(data.get("created_before")),
    };
    state.limit = data.get("limit");
    state.cursors = [null];
    refresh();
  });
  form.addEventListener("reset", () => {
    state.filters = {};
    state.cursors = [null];
    setTimeout(refresh); // after the form has cleared its fields
  });
  loadAlgorithms(form.elements.algorithm, context);

  let nextCursor = null;
  const drawPager = () => {
    const page = state.cursors.length;
    fill(
      pager,
      h("button", { type: "button", disabled: page === 1, onclick: () => { state.cursors = [null]; refresh(); } }, "Newest"),
      h("button", { type: "button", disabled: page === 1, onclick: () => { state.cursors.pop(); refresh(); } }, "‹ Newer"),
      h("span", { class: "page-number" }, `page ${page}`),
      h("button", { type: "button", id: "older", disabled: !nextCursor, onclick: () => { state.cursors.push(nextCursor); refresh(); } }, "Older ›"),
    );
  };
  const load = async () => {
    try {
      const cursor = state.cursors[state.cursors.length - 1];
      const page = await call("/jobs" + query({ ...state.filters, limit: state.limit, cursor }));
      nextCursor = page.next_cursor;
      fill(listing, jobsTable(page.jobs));
      drawPager();
    } catch (error) {
      context.fail(error);
    }
  };
  let stop = every(REFRESH_MS, load);
  const refresh = () => {
    stop();
    stop = every(REFRESH_MS, load);
  };
  return () => stop();
}

export function jobsTable(jobs, { empty = "No jobs match" } = {}) {
  const rows = jobs.map((job) =>
    h(
      "tr",
      { dataset: { jobId: job.job_id, status: job.status } },
      h("td", {}, jobLink(job.job_id)),
      h("td", {}, badge(job.status)),
      h("td", {}, job.algorithm),
      h("td", { class: "mono" }, job.owner ?? ""),
      h("td", {}, time(job.created_at)),
      h("td", { class: "progress-cell" }, job.progress ? progressBar(job.progress.fraction) : ""),
      h("td", { class: "num" }, job.attempts ?? 0),
      h("td", {}, job.batch_id ? batchLink(job.batch_id) : ""),
    ),
  );
  return table(["Job", "Status", "Algorithm", "Owner", "Created", "Progress", "Runs", "Batch"], rows, { empty });
}

function filterForm() {
  const select = (name, label, options) =>
    h("label", {}, label, h("select", { name }, options.map(([value, text]) => h("option", { value }, text))));
  const form = h(
    "form",
    { class: "filters", id: "job-filters" },
    select("status", "Status", [["", "any"], ...STATUSES.map((status) => [status, status])]),
    select("algorithm", "Algorithm", [["", "any"]]),
    h("label", {}, "Owner", h("input", { name: "owner", placeholder: "key id, or _", autocomplete: "off" })),
    h("label", {}, "Created after", h("input", { name: "created_after", type: "datetime-local", step: "1" })),
    h("label", {}, "Created before", h("input", { name: "created_before", type: "datetime-local", step: "1" })),
    select("limit", "Per page", [["20", "20"], ["50", "50"], ["100", "100"]]),
    h("div", { class: "buttons" }, h("button", { type: "submit" }, "Apply"), h("button", { type: "reset" }, "Clear")),
  );
  form.elements.status.value = state.filters.status || "";
  form.elements.owner.value = state.filters.owner || "";
  form.elements.limit.value = state.limit;
  return form;
}

async function loadAlgorithms(selectElement, context) {
  try {
    const algorithms = await call("/algorithms");
    for (const algorithm of algorithms) selectElement.append(h("option", { value: algorithm.name }, algorithm.name));
    selectElement.value = state.filters.algorithm || "";
  } catch (error) {
    context.fail(error);
  }
}

function isoFromLocal(value) {
  return value ? new Date(value).toISOString() : "";
}

/** Open the job, or else the batch, with this id. */
async function find(id, context) {
  for (const [kind, path] of [["jobs", "/jobs/"], ["batches", "/batches/"]]) {
    try {
      await call(path + encodeURIComponent(id) + (kind === "batches" ? "?limit=1" : ""));
      location.hash = `#/${kind}/${encodeURIComponent(id)}`;
      return;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        context.fail(error);
        return;
      }
    }
  }
  context.say(`No job or batch has the id ${id}`, "error");
}
