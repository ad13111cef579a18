// Agreement between the readers of one series (issue 8 review): Dice per label and agreement on
// classifications, computed at the site on request. Numbers only reach the page — never labels.

import { api } from "./api.js";
import { el, fillTable } from "./dom.js";

/** Tasks whose work is finished enough to compare. */
const DONE = new Set(["submitted", "approved"]);
const MAX_TASKS = 10; // site_gateway/agreement.py MAX_TASKS
/** Answers by task set ("1,2"), kept across the page's live re-renders. */
const answers = new Map();

/** @param {number | null | undefined} value */
function number(value) {
  return typeof value === "number" ? value.toFixed(2) : "n/a";
}

/**
 * @param {HTMLElement} cell
 * @param {any} answer the body of POST /api/projects/<id>/agreement/
 * @param {Map<number, string>} readerOf task id → reader's user name
 */
function showAnswer(cell, answer, readerOf) {
  if (answer.status !== "ok") {
    cell.replaceChildren(el("span", { "data-agreement-state": answer.status },
      `site ${answer.status}: ${answer.error?.message ?? ""}`));
    return;
  }
  const who = (/** @type {number} */ id) => `#${id} ${readerOf.get(id) ?? ""}`.trim();
  const counts = el("p", { "data-agreement-state": "ok" }, answer.readers.map(
    (/** @type {any} */ r) => `${who(r.task)}: ${r.labels} labels`).join(" · "));
  const pairs = el("ul", {}, ...answer.pairs.map((/** @type {any} */ pair) => {
    const [a, b] = pair.tasks;
    const dice = Object.entries(pair.dice).map(([label, value]) =>
      el("span", { "data-dice": label }, `Dice ${label} ${number(/** @type {number|null} */ (value))}`));
    const c = pair.classification;
    const classes = el("span", { "data-classification": c ? String(c.agreement) : "none" }, c
      ? `classification agreement ${number(c.agreement)} (κ ${number(c.kappa)}, ${c.targets} targets)`
      : "no classifications");
    const parts = [...dice, classes].flatMap((node, i) => (i ? ["; ", node] : [node]));
    return el("li", { "data-pair": `${a}-${b}` }, `${who(a)} vs ${who(b)}: `, ...parts);
  }));
  cell.replaceChildren(counts, pairs);
}

/**
 * @param {any[]} tasks the project's tasks
 * @param {number} projectId @param {string} csrf @param {(e: unknown) => void} fail
 */
export function renderAgreement(tasks, projectId, csrf, fail) {
  /** @type {Map<string, any[]>} */
  const bySeries = new Map();
  for (const task of tasks) {
    if (!DONE.has(task.status)) continue;
    const key = `${task.site}:${task.series_handle}`;
    bySeries.set(key, [...(bySeries.get(key) ?? []), task]);
  }
  const groups = [...bySeries.values()].filter((group) => group.length >= 2);
  const empty = document.getElementById("agreement-empty");
  if (empty) empty.hidden = groups.length > 0;
  const table = /** @type {HTMLTableElement} */ (document.getElementById("agreement"));
  fillTable(table, ["site", "series", "readers", "agreement"], groups.map((unsorted) => {
    const group = [...unsorted].sort((a, b) => a.id - b.id).slice(0, MAX_TASKS);
    const first = group[0];
    const ids = group.map((t) => t.id);
    const readerOf = new Map(group.map((t) => [t.id, t.assignee ? t.assignee.username : ""]));
    const key = ids.join(",");
    const result = el("div", { "data-agreement-result": first.series_handle });
    const button = el("button", { type: "button", "aria-label": `Agreement for series ${first.series_handle}` },
      "Compute at the site");
    button.addEventListener("click", async () => {
      try {
        const answer = await api(`/api/projects/${projectId}/agreement/`, { method: "POST", csrf,
          body: { tasks: ids } });
        answers.set(key, answer);
        showAnswer(result, answer, readerOf);
      } catch (error) { fail(error); }
    });
    if (answers.has(key)) showAnswer(result, answers.get(key), readerOf);
    return el("tr", { "data-agreement": first.series_handle }, el("td", {}, first.site_name),
      el("td", {}, first.series_handle),
      el("td", {}, group.map((t) => `#${t.id} ${t.assignee ? t.assignee.username : "—"}`).join(", ")),
      el("td", {}, button, result));
  }));
}
