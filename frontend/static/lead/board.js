// The progress board: counts by status per site and per annotator, and site-reported label counts.

import { el, fillTable, statusLabel } from "./dom.js";

/** @param {Record<string, number>} counts @param {string[]} statuses @param {string} prefix */
function countCells(counts, statuses, prefix) {
  return statuses.map((s) => el("td", { "data-count": `${prefix}-${s}` }, String(counts[s] ?? 0)));
}

/**
 * @param {any} progress the body of GET /api/projects/<id>/progress/
 * @param {string[]} statuses
 */
export function renderBoard(progress, statuses) {
  const headings = statuses.map(statusLabel);
  const totals = /** @type {HTMLTableElement} */ (document.getElementById("progress-totals"));
  fillTable(totals, [...headings, "total", "labels"], [
    el("tr", {}, ...countCells(progress.totals, statuses, "total"),
      el("td", { "data-count": "total-all" }, String(progress.totals.total)),
      el("td", { "data-count": "total-labels" }, String(progress.labels.total))),
  ]);
  const sites = /** @type {HTMLTableElement} */ (document.getElementById("progress-sites"));
  fillTable(sites, ["site", ...headings, "labels"], progress.by_site.map((/** @type {any} */ row) =>
    el("tr", { "data-site": String(row.site) }, el("th", { scope: "row" }, row.site_name),
      ...countCells(row.counts, statuses, `site${row.site}`), el("td", {}, String(row.label_count)))));
  const people = /** @type {HTMLTableElement} */ (document.getElementById("progress-annotators"));
  fillTable(people, ["annotator", ...headings, "labels"], progress.by_annotator.map((/** @type {any} */ row) => {
    const name = row.annotator ? row.annotator.username : "(unassigned)";
    const key = row.annotator ? `user${row.annotator.id}` : "unassigned";
    return el("tr", { "data-annotator": key }, el("th", { scope: "row" }, name),
      ...countCells(row.counts, statuses, key), el("td", {}, String(row.label_count)));
  }));
  const notes = document.getElementById("progress-notes");
  if (notes) notes.textContent = progress.notes.join(" ");
}
