// Overview: the queues, the workers online and the last hour's throughput, from GET /queues every 2 s.

import { call } from "./api.js";
import { duration, every, fill, h, percent, svg, table } from "./dom.js";

const REFRESH_MS = 2000;

export function showOverview(view, context) {
  const cards = h("div", { class: "cards" });
  const chart = h("figure", { class: "chart" });
  const queues = h("div");
  fill(view, h("h1", {}, "Overview"), cards, h("h2", {}, "Jobs over the last hour"), chart, h("h2", {}, "Queues"), queues);
  return every(REFRESH_MS, async () => {
    try {
      const cluster = await call("/queues");
      drawCards(cards, cluster);
      drawChart(chart, cluster.queues.find((queue) => queue.name === "jobs"));
      drawQueues(queues, cluster.queues);
      view.dataset.updated = new Date().toISOString();
    } catch (error) {
      context.fail(error);
    }
  });
}

function card(label, value, note, name) {
  return h("div", { class: "card", dataset: { metric: name } }, h("div", { class: "card-label" }, label), h("div", { class: "card-value" }, value), note && h("div", { class: "card-note" }, note));
}

function drawCards(cards, cluster) {
  const jobs = cluster.queues.find((queue) => queue.name === "jobs") || {};
  const hooks = cluster.queues.find((queue) => queue.name === "webhooks") || {};
  const recent = (jobs.windows || {})["5m"] || {};
  const online = cluster.workers.online || {};
  const onlineNote = Object.entries(online).map(([role, count]) => `${role}: ${count}`).join(", ");
  const total = Object.values(online).reduce((sum, count) => sum + count, 0);
  fill(
    cards,
    card("Jobs waiting", jobs.pending ?? 0, `${jobs.scheduled ?? 0} scheduled`, "pending"),
    card("Running", jobs.running ?? 0, `${cluster.workers.slots_busy}/${cluster.workers.slots} slots busy`, "running"),
    card("Oldest waiting", duration(jobs.oldest_pending_age_seconds ?? 0), "age of the oldest pending job", "oldest"),
    card("Workers online", total, onlineNote || "none", "workers"),
    card("Run time p50 / p95", `${duration(recent.run_time_p50_seconds)} / ${duration(recent.run_time_p95_seconds)}`, "last 5 minutes", "run-time"),
    card("Webhook backlog", (hooks.pending ?? 0) + (hooks.scheduled ?? 0), `${hooks.running ?? 0} being delivered`, "webhooks"),
  );
}

function drawQueues(element, queues) {
  const rows = queues.map((queue) => {
    const window = (name) => queue.windows[name] || {};
    const activity = (name) => `${window(name).completed ?? 0} / ${window(name).failed ?? 0}`;
    return h(
      "tr",
      { dataset: { queue: queue.name } },
      h("th", { scope: "row" }, queue.name),
      h("td", { class: "num" }, queue.pending),
      h("td", { class: "num" }, queue.scheduled),
      h("td", { class: "num" }, queue.running),
      h("td", { class: "num" }, duration(queue.oldest_pending_age_seconds ?? 0)),
      h("td", { class: "num" }, activity("1m")),
      h("td", { class: "num" }, activity("5m")),
      h("td", { class: "num" }, activity("15m")),
      h("td", { class: "num" }, `${duration(window("15m").run_time_p50_seconds)} / ${duration(window("15m").run_time_p95_seconds)}`),
    );
  });
  const columns = ["Queue", "Pending", "Scheduled", "Running", "Oldest pending", "Done / failed 1 min", "5 min", "15 min", "p50 / p95 (15 min)"];
  fill(element, table(columns, rows));
}

const HEIGHT = 180;
const PAD = 28;

/** Completed and failed jobs per minute as stacked bars, the failure rate as a line, drawn as SVG. */
function drawChart(figure, queue) {
  // One drawing unit per CSS pixel of the figure as it is now (redrawn each refresh): text stays readable on a phone.
  const WIDTH = Math.max(280, figure.clientWidth - 20);
  const history = (queue && queue.history) || [];
  const completed = history.reduce((sum, minute) => sum + minute.completed, 0);
  const failed = history.reduce((sum, minute) => sum + minute.failed, 0);
  const peak = Math.max(1, ...history.map((minute) => minute.completed + minute.failed));
  const plot = HEIGHT - PAD;
  const slot = (WIDTH - PAD) / Math.max(history.length, 1);
  const y = (count) => plot - (count / peak) * (plot - 8);
  const bars = [];
  const rate = [];
  history.forEach((minute, index) => {
    const x = PAD + index * slot;
    const label = `${new Date(minute.at).toLocaleTimeString()}: ${minute.completed} completed, ${minute.failed} failed`;
    if (minute.completed) {
      bars.push(svg("rect", { class: "bar-ok", x: x + 1, y: y(minute.completed), width: Math.max(slot - 2, 1), height: plot - y(minute.completed) }, svg("title", {}, label)));
    }
    if (minute.failed) {
      const top = y(minute.completed + minute.failed);
      bars.push(svg("rect", { class: "bar-failed", x: x + 1, y: top, width: Math.max(slot - 2, 1), height: y(minute.completed) - top }, svg("title", {}, label)));
    }
    const runs = minute.completed + minute.failed;
    if (runs) rate.push(`${(x + slot / 2).toFixed(1)},${(plot - (minute.failed / runs) * (plot - 8)).toFixed(1)}`);
  });
  const picture = svg(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": `Jobs per minute over the last hour: ${completed} completed, ${failed} failed` },
    svg("line", { class: "axis", x1: PAD, y1: plot, x2: WIDTH, y2: plot }),
    svg("line", { class: "axis", x1: PAD, y1: 4, x2: PAD, y2: plot }),
    svg("text", { class: "tick", x: PAD - 4, y: 12, "text-anchor": "end" }, String(peak)),
    svg("text", { class: "tick", x: PAD - 4, y: plot, "text-anchor": "end" }, "0"),
    svg("text", { class: "tick", x: PAD, y: HEIGHT - 6 }, "60 min ago"),
    svg("text", { class: "tick", x: WIDTH, y: HEIGHT - 6, "text-anchor": "end" }, "now"),
    bars,
    rate.length > 1 ? svg("polyline", { class: "line-rate", points: rate.join(" ") }) : null,
  );
  fill(
    figure,
    picture,
    h(
      "figcaption",
      {},
      h("span", { class: "key key-ok" }, "completed"),
      h("span", { class: "key key-failed" }, "failed"),
      h("span", { class: "key key-rate" }, "failure rate (0–100 %)"),
      ` · last hour: ${completed} completed, ${failed} failed, failure rate ${percent(failed, completed + failed)}, ${(completed / 60).toFixed(1)} jobs/min`,
    ),
  );
}
