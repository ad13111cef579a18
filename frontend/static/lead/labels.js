// The progress board per label: how many labels of each label the readers made, per site and per
// annotator, counted at the sites on request (central keeps one count per task, not per label).

import { api } from "./api.js";
import { el, fillTable } from "./dom.js";

/**
 * @param {any} answer the body of GET /api/projects/<id>/progress/labels/
 */
function renderLabels(answer) {
  const status = /** @type {HTMLElement} */ (document.getElementById("labels-status"));
  status.replaceChildren(...answer.by_site.map((/** @type {any} */ s) =>
    el("li", { "data-labels-site": String(s.site), "data-state": s.status },
      s.status === "ok" ? `${s.site_name}: ${s.tasks} tasks counted${s.truncated ? " (the first 500)" : ""}`
        : `${s.site_name}: ${s.status}`)));
  const sites = answer.by_site.filter((/** @type {any} */ s) => s.status === "ok");
  const people = answer.by_annotator;
  const table = /** @type {HTMLTableElement} */ (document.getElementById("progress-labels"));
  const who = (/** @type {any} */ p) => (p.annotator ? p.annotator.username : "(unassigned)");
  const key = (/** @type {any} */ p) => (p.annotator ? `user${p.annotator.id}` : "unassigned");
  fillTable(table, ["label", "labels", "tasks with it", ...sites.map((/** @type {any} */ s) => s.site_name),
    ...people.map(who)], answer.labels.map((/** @type {any} */ row) =>
    el("tr", { "data-label": row.label }, el("th", { scope: "row" }, row.label),
      el("td", { "data-label-count": `${row.label}-total` }, String(row.count)),
      el("td", { "data-label-count": `${row.label}-tasks` }, String(row.tasks)),
      ...sites.map((/** @type {any} */ s) =>
        el("td", { "data-label-count": `${row.label}-site${s.site}` }, String(s.labels[row.label] ?? 0))),
      ...people.map((/** @type {any} */ p) =>
        el("td", { "data-label-count": `${row.label}-${key(p)}` }, String(p.labels[row.label] ?? 0))))));
  const empty = document.getElementById("labels-empty");
  if (empty) empty.hidden = answer.labels.length > 0;
}

/** @param {number} projectId @param {(e: unknown) => void} fail */
export function setUpLabelCounts(projectId, fail) {
  const button = /** @type {HTMLButtonElement} */ (document.getElementById("labels-count"));
  button.hidden = false;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      renderLabels(await api(`/api/projects/${projectId}/progress/labels/`));
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  });
}
