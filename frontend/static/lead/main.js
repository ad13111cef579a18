// The lead's project page: wires the board, selections, tasks and review to the API and the socket.

import { renderAgreement } from "./agreement.js";
import { apiAll, api } from "./api.js";
import { renderBoard } from "./board.js";
import { setUpBrowser } from "./browser.js";
import { setUpLabelCounts } from "./labels.js";
import { followProject } from "./live.js";
import { renderSelections, renderWithdrawals, setUpBulkForm } from "./selections.js";
import { renderReview, renderTasks } from "./tasks.js";

const root = /** @type {HTMLElement} */ (document.getElementById("lead"));
const data = JSON.parse(document.getElementById("lead-data")?.textContent ?? "{}");
const csrf = root.dataset.csrf ?? "";
const projectId = data.project.id;
const errorBox = /** @type {HTMLElement} */ (document.getElementById("lead-error"));

/** @param {unknown} error */
function fail(error) {
  errorBox.hidden = false;
  errorBox.textContent = error instanceof Error ? error.message : String(error);
}

async function refreshBoard() {
  renderBoard(await api(`/api/projects/${projectId}/progress/`), data.statuses);
}

/** Series handle → one task of it: the browser's "open read-only" link. */
let taskOfSeries = new Map();
let renderBrowser = () => {};

async function refreshTasks() {
  const tasks = await apiAll(`/api/tasks/?project=${projectId}&page_size=200`);
  taskOfSeries = new Map(tasks.map((t) => [t.series_handle, t.id]));
  renderBrowser();
  renderTasks(tasks, data, csrf, fail, refreshAll);
  renderReview(tasks.filter((t) => t.status === "submitted"), csrf, fail, refreshAll, data.me.may_manage);
  if (data.me.may_manage) renderAgreement(tasks, projectId, csrf, fail);
}

async function refreshSelections() {
  const [selections, withdrawals] = await Promise.all([
    apiAll(`/api/projects/${projectId}/selections/?page_size=200`),
    apiAll(`/api/projects/${projectId}/withdrawals/?page_size=200`),
  ]);
  renderSelections(selections, data.reasons, data.me.may_manage ? withdraw : null);
  renderWithdrawals(withdrawals);
}

/** Withdraw a selection: the site retires its KOS (or is asked again when it is back). */
function withdraw(/** @type {any} */ selection) {
  api(`/api/projects/${projectId}/selections/${selection.id}/`, { method: "DELETE", csrf })
    .then(selectionsChanged, (error) => { fail(error); refreshSelections().catch(fail); });
}

function refreshAll() {
  Promise.all([refreshBoard(), refreshTasks()]).then(() => { root.dataset.loaded = "yes"; }, fail);
}

setUpBulkForm(data, csrf, refreshAll);
if (data.me.may_manage) setUpLabelCounts(projectId, fail);
// The site reports the KOS stored a moment after the selection: read the list again then.
const selectionsChanged = () => {
  refreshSelections().catch(fail);
  setTimeout(() => refreshSelections().catch(fail), 2500);
};
renderBrowser = setUpBrowser(data, csrf, fail, selectionsChanged, () => taskOfSeries);
refreshSelections().catch(fail);
refreshAll();
followProject(projectId, refreshAll, (state) => {
  root.dataset.live = state;
  const label = document.getElementById("live-state");
  if (label) label.textContent = state;
});
