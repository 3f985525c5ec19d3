// Workers: every worker process whose heartbeat is current (GET /workers), refreshed every second.
// A worker that dies stops renewing its entry, which the registry drops after WORKER_LEASE_SECONDS.

import { call } from "./api.js";
import { badge, duration, every, fill, h, jobLink, since, table, time } from "./dom.js";

const REFRESH_MS = 1000;

export function showWorkers(view, context) {
  const listing = h("div", { id: "workers-listing" });
  const summary = h("p", { class: "muted" });
  fill(view, h("h1", {}, "Workers"), summary, listing);
  return every(REFRESH_MS, async () => {
    try {
      const { workers } = await call("/workers");
      workers.sort((a, b) => a.host.localeCompare(b.host) || a.role.localeCompare(b.role) || a.pid - b.pid);
      const busy = workers.reduce((sum, worker) => sum + worker.running.length, 0);
      const slots = workers.filter((worker) => worker.role === "jobs").reduce((sum, worker) => sum + worker.slots, 0);
      fill(summary, `${workers.length} worker processes online; ${busy} of ${slots} job slots busy.`);
      fill(listing, table(["Host", "PID", "Role", "Busy slots", "Running jobs", "Heartbeat age", "Threads", "Version", "Started"], workers.map(row), { empty: "No worker online" }));
    } catch (error) {
      context.fail(error);
    }
  });
}

function row(worker) {
  const running = worker.running.map((run) => h("li", {}, jobLink(run.job_id), ` for ${since(run.since)}`));
  return h(
    "tr",
    { dataset: { workerId: worker.id, pid: String(worker.pid), role: worker.role } },
    h("td", {}, worker.host),
    h("td", { class: "num" }, worker.pid),
    h("td", {}, worker.role, worker.stopping ? [" ", badge("stopping")] : null),
    h("td", { class: "num" }, `${worker.running.length} / ${worker.slots}`),
    h("td", {}, running.length ? h("ul", { class: "plain" }, running) : ""),
    h("td", { class: "num" }, duration(worker.heartbeat_age_seconds)),
    h("td", { class: "num" }, worker.threads),
    h("td", {}, worker.version),
    h("td", {}, time(worker.started_at)),
  );
}
