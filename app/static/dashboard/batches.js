// Batches: GET /batches (newest first) and one batch with its jobs (GET /batches/{id}), every 2 s.

import { call, query } from "./api.js";
import { badge, batchLink, every, fill, h, keyValues, progressBar, table, time } from "./dom.js";
import { jobsTable } from "./jobs.js";

const REFRESH_MS = 2000;
const STATUSES = ["scheduled", "pending", "running", "completed", "failed", "cancelled"];
const FINISHED = ["completed", "failed", "cancelled"];

function done(batch) {
  return FINISHED.reduce((sum, status) => sum + ((batch.counts || {})[status] || 0), 0);
}

function countsText(batch) {
  return STATUSES.filter((status) => (batch.counts || {})[status]).map((status) => `${status} ${batch.counts[status]}`).join(", ");
}

export function showBatches(view, context) {
  const listing = h("div", { id: "batches-listing" });
  const pager = h("div", { class: "pager" });
  fill(view, h("h1", {}, "Batches"), listing, pager);
  const cursors = [null];
  let nextCursor = null;
  const load = async () => {
    try {
      const page = await call("/batches" + query({ limit: 20, cursor: cursors[cursors.length - 1] }));
      nextCursor = page.next_cursor;
      const rows = page.batches.map((batch) =>
        h(
          "tr",
          { dataset: { batchId: batch.batch_id } },
          h("td", {}, batchLink(batch.batch_id)),
          h("td", {}, badge(batch.status)),
          h("td", { class: "num" }, batch.total),
          h("td", {}, countsText(batch)),
          h("td", { class: "progress-cell" }, progressBar(batch.total ? done(batch) / batch.total : 1)),
          h("td", {}, time(batch.created_at)),
          h("td", {}, time(batch.completed_at)),
        ),
      );
      fill(listing, table(["Batch", "Status", "Jobs", "Counts", "Done", "Created", "Completed"], rows, { empty: "No batches" }));
      fill(
        pager,
        h("button", { type: "button", disabled: cursors.length === 1, onclick: () => { cursors.pop(); restart(); } }, "‹ Newer"),
        h("span", { class: "page-number" }, `page ${cursors.length}`),
        h("button", { type: "button", disabled: !nextCursor, onclick: () => { cursors.push(nextCursor); restart(); } }, "Older ›"),
      );
    } catch (error) {
      context.fail(error);
    }
  };
  let stop = every(REFRESH_MS, load);
  const restart = () => {
    stop();
    stop = every(REFRESH_MS, load);
  };
  return () => stop();
}

export function showBatch(view, context, batchId) {
  const path = "/batches/" + encodeURIComponent(batchId);
  const offsets = [null];
  let nextCursor = null;
  let batch = null;
  const head = h("div");
  const listing = h("div");
  const pager = h("div", { class: "pager" });
  const cancel = async () => {
    if (!window.confirm(`Cancel batch ${batchId}? Its jobs that have not finished are cancelled.`)) return;
    try {
      await call(path + "/cancel", { method: "POST" });
      context.say("Batch cancelled", "info");
    } catch (error) {
      context.fail(error);
    }
  };
  fill(view, h("p", { class: "crumbs" }, h("a", { href: "#/batches" }, "Batches"), " / ", h("span", { class: "mono" }, batchId)), head, listing, pager);
  const load = async () => {
    try {
      batch = await call(path + query({ limit: 50, cursor: offsets[offsets.length - 1] }));
      nextCursor = batch.next_cursor;
      fill(
        head,
        h("h1", {}, "Batch ", h("span", { class: "mono" }, batch.batch_id), " ", badge(batch.status)),
        h("div", { class: "actions" }, h("button", { type: "button", class: "danger", id: "cancel-batch", disabled: batch.status === "completed", onclick: cancel }, "Cancel batch")),
        progressBar(batch.total ? done(batch) / batch.total : 1, `${done(batch)} of ${batch.total} ended`),
        keyValues([["Counts", countsText(batch)], ["Created", time(batch.created_at)], ["Completed", time(batch.completed_at)], ["Expires", time(batch.expires_at)], ["Webhook", batch.webhook ? `${batch.webhook.url} (${batch.webhook.state})` : null]]),
      );
      fill(listing, h("h2", {}, "Jobs"), jobsTable(batch.jobs || []));
      fill(
        pager,
        h("button", { type: "button", disabled: offsets.length === 1, onclick: () => { offsets.pop(); load(); } }, "‹ Previous"),
        h("span", { class: "page-number" }, `page ${offsets.length}`),
        h("button", { type: "button", disabled: !nextCursor, onclick: () => { offsets.push(nextCursor); load(); } }, "Next ›"),
      );
    } catch (error) {
      context.fail(error);
    }
  };
  return every(REFRESH_MS, load);
}
