// One job: what it was asked, what it answered, its runs and webhook deliveries, live through its
// event stream (GET /jobs/{id}/events), and the operator's actions, each confirmed first.

import { ApiError, call, readEvents } from "./api.js";
import { badge, batchLink, duration, fill, h, keyValues, pre, progressBar, table, time } from "./dom.js";

const FINISHED = new Set(["completed", "failed", "cancelled"]);
// Fallback when the stream cannot be held (e.g. 503: the web process holds its maximum of streams).
const POLL_MS = 1000;

export function showJob(view, context, jobId) {
  const path = "/jobs/" + encodeURIComponent(jobId);
  const controller = new AbortController();
  const live = []; // events seen on the stream, for the timeline
  let job = null;
  let stopped = false;

  const draw = () => {
    if (!stopped && job) fill(view, ...render(job, live, act));
  };
  const load = async () => {
    job = await call(path, { signal: controller.signal });
    draw();
  };

  async function act(label, question, action) {
    if (!window.confirm(question)) return; // every action asks first
    try {
      job = await call(`${path}/${action}`, { method: "POST" });
      context.say(`${label}: done`, "info");
      draw();
      follow(); // a retried job runs again: follow it anew
    } catch (error) {
      context.fail(error);
    }
  }

  let following = false;
  async function follow() {
    if (following || stopped) return;
    following = true;
    let lastEventId = null;
    try {
      for (;;) {
        try {
          await readEvents(path + "/events", {
            signal: controller.signal,
            lastEventId,
            onEvent(event) {
              if (event.id) lastEventId = event.id;
              if (event.event === "status") {
                const previous = job && job.status;
                job = event.data;
                if (previous !== job.status) live.push({ at: new Date().toISOString(), text: `status ${job.status}` });
              } else if (event.event === "progress") {
                job = { ...job, progress: event.data };
              } else if (event.event === "webhook") {
                live.push({ at: event.data.at, text: `webhook attempt ${event.data.series}.${event.data.number}: ${event.data.status_code ?? event.data.error}` });
                if (job && job.webhook) job = { ...job, webhook: { ...job.webhook, attempts: [...(job.webhook.attempts || []), event.data] } };
              }
              draw();
            },
          });
          await load(); // the stream ended: the job has finished, and its webhook too; show the final record
          if (job && FINISHED.has(job.status)) break;
        } catch (error) {
          if (error.name === "AbortError") return;
          if (error instanceof ApiError && [401, 403, 404].includes(error.status)) throw error;
          // The stream is unavailable (503, network): poll instead until the job has finished.
          while (!stopped) {
            await load();
            if (FINISHED.has(job.status)) return;
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          }
        }
      }
    } catch (error) {
      if (error.name !== "AbortError") context.fail(error);
    } finally {
      following = false;
    }
  }

  fill(view, h("p", {}, "Loading job ", jobId, "…"));
  load()
    .then(() => follow())
    .catch((error) => {
      if (error instanceof ApiError && error.status === 404) fill(view, h("h1", {}, "Job not found"), h("p", {}, `No job ${jobId} (it may have expired). `, h("a", { href: "#/jobs" }, "All jobs")));
      else context.fail(error);
    });
  return () => {
    stopped = true;
    controller.abort();
  };
}

function render(job, live, act) {
  const finished = FINISHED.has(job.status);
  const actions = h(
    "div",
    { class: "actions" },
    h("button", { type: "button", id: "cancel-job", class: "danger", disabled: finished, onclick: () => act("Cancel", `Cancel job ${job.job_id}? A running job is stopped.`, "cancel") }, "Cancel"),
    h("button", { type: "button", id: "retry-job", disabled: !["failed", "cancelled"].includes(job.status), onclick: () => act("Retry", `Run job ${job.job_id} again as a new attempt?`, "retry") }, "Retry"),
    h("button", { type: "button", id: "redeliver-webhook", disabled: !(finished && job.webhook), onclick: () => act("Redeliver", `Send job ${job.job_id}'s webhook again?`, "webhook/redeliver") }, "Redeliver webhook"),
  );
  return [
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", h("span", { class: "mono" }, job.job_id)),
    h("h1", {}, "Job ", h("span", { class: "mono" }, job.job_id), " ", h("span", { id: "job-status", dataset: { status: job.status } }, badge(job.status))),
    actions,
    h("section", { id: "job-progress" }, h("h2", {}, "Progress"), progressOf(job)),
    h(
      "section",
      {},
      h("h2", {}, "Summary"),
      keyValues([
        ["Algorithm", job.algorithm],
        ["Owner", job.owner],
        ["Batch", job.batch_id ? batchLink(job.batch_id) : null],
        ["Priority", job.priority],
        ["Created", time(job.created_at)],
        ["Next run", time(job.next_run_at)],
        ["Started", time(job.started_at)],
        ["Ended", time(job.completed_at)],
        ["Run time", job.started_at && job.completed_at ? duration((new Date(job.completed_at) - new Date(job.started_at)) / 1000) : null],
        ["Runs", job.attempts],
        ["Worker host", job.worker_host],
        ["Time limit", job.timeout ? duration(job.timeout) : null],
        ["Cancel requested", job.cancel_requested ? "yes" : null],
        ["Expires", time(job.expires_at)],
      ]),
    ),
    h("section", {}, h("h2", {}, "Params"), pre(job.params ?? {})),
    job.status === "completed" ? h("section", { id: "job-result" }, h("h2", {}, "Result"), pre(job.result ?? null)) : null,
    job.error ? h("section", { id: "job-error" }, h("h2", {}, "Error"), h("p", { class: "error-text" }, job.error), job.error_details ? pre(job.error_details) : null) : null,
    h("section", {}, h("h2", {}, "Runs"), attemptsTable(job.attempt_history || [])),
    h("section", {}, h("h2", {}, "Timeline"), timeline(job, live)),
    h("section", { id: "job-webhook" }, h("h2", {}, "Webhook"), webhookLog(job.webhook)),
  ];
}

/** The bar: a completed job is whole even when its last report (throttled to 4/s) was not written in time. */
function progressOf(job) {
  if (job.status === "completed") return progressBar(1, "completed");
  if (job.progress) return progressBar(job.progress.fraction, job.progress.message);
  return progressBar(0, FINISHED.has(job.status) ? job.status : "no progress reported");
}

function attemptsTable(attempts) {
  const rows = attempts.map((run) =>
    h("tr", {}, h("td", { class: "num" }, run.attempt), h("td", {}, badge(run.outcome)), h("td", {}, time(run.started_at)), h("td", {}, time(run.ended_at)), h("td", {}, run.error ?? "")),
  );
  return table(["Run", "Outcome", "Started", "Ended", "Error"], rows, { empty: "Not run yet" });
}

function timeline(job, live) {
  const entries = [[job.created_at, "created"]];
  for (const run of job.attempt_history || []) {
    if (run.started_at) entries.push([run.started_at, `run ${run.attempt} started`]);
    if (run.ended_at) entries.push([run.ended_at, `run ${run.attempt} ended: ${run.outcome}`]);
  }
  if (job.next_run_at && !FINISHED.has(job.status)) entries.push([job.next_run_at, "due"]);
  if (job.progress) entries.push([job.progress.updated_at, `progress ${Math.round(job.progress.fraction * 100)} %${job.progress.message ? ": " + job.progress.message : ""}`]);
  if (job.completed_at) entries.push([job.completed_at, job.status]);
  for (const event of live) entries.push([event.at, "live: " + event.text]);
  entries.sort((a, b) => new Date(a[0]) - new Date(b[0]));
  return h("ol", { class: "timeline" }, entries.map(([at, text]) => h("li", {}, h("time", { datetime: at }, time(at)), " ", text)));
}

function webhookLog(webhook) {
  if (!webhook) return h("p", { class: "muted" }, "No webhook");
  const rows = (webhook.attempts || []).map((attempt) =>
    h("tr", {}, h("td", { class: "num" }, `${attempt.series}.${attempt.number}`), h("td", {}, time(attempt.at)), h("td", { class: "num" }, duration(attempt.duration)), h("td", { class: "num" }, attempt.status_code ?? ""), h("td", {}, attempt.error ?? "")),
  );
  return [
    keyValues([["URL", webhook.url], ["State", webhook.state], ["Reason", webhook.reason], ["webhook-id", webhook.id]]),
    table(["Attempt", "At", "Took", "HTTP status", "Error"], rows, { empty: "No delivery attempt yet" }),
  ];
}
