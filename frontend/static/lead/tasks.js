// The task list (reassign) and the review queue (approve, or reject with a comment).

import { api } from "./api.js";
import { el, fillTable, statusLabel } from "./dom.js";

/** Comments being typed, by task id: a live refresh re-renders the queue but keeps them. */
const drafts = new Map();

/** @param {any} task */
function viewerLink(task) {
  return el("a", { href: `/tasks/${task.id}/view/`, "aria-label": `Open task ${task.id} read-only` }, "open");
}

/**
 * @param {any[]} tasks @param {any} data page data @param {string} csrf @param {(e: unknown) => void} fail
 * @param {() => void} changed
 */
export function renderTasks(tasks, data, csrf, fail, changed) {
  const table = /** @type {HTMLTableElement} */ (document.getElementById("tasks"));
  fillTable(table, ["task", "site", "series", "assignee", "status", "due", "labels", "reassign"], tasks.map((task) => {
    const select = /** @type {HTMLSelectElement} */ (el("select", { "aria-label": `Reassign task ${task.id}` },
      el("option", { value: "" }, "(nobody)"),
      ...data.members.map((/** @type {any} */ m) => el("option", { value: String(m.id) }, m.username))));
    select.value = task.assignee ? String(task.assignee.id) : "";
    select.disabled = task.status === "approved" || !data.me.may_manage;
    select.addEventListener("change", async () => {
      try {
        await api(`/api/tasks/${task.id}/assign/`, { method: "POST", csrf,
          body: { assignee: select.value ? Number(select.value) : null } });
        changed();
      } catch (error) { fail(error); }
    });
    return el("tr", { "data-task": String(task.id), "data-status": task.status },
      el("td", {}, `#${task.id}`), el("td", {}, task.site_name), el("td", {}, task.series_handle),
      el("td", {}, task.assignee ? task.assignee.username : "—"), el("td", {}, statusLabel(task.status)),
      el("td", {}, task.due_date ?? "—"), el("td", {}, String(task.label_count)), el("td", {}, select));
  }));
}

/**
 * @param {any[]} submitted tasks with status "submitted"
 * @param {string} csrf @param {(e: unknown) => void} fail @param {() => void} changed
 * @param {boolean} mayDecide
 */
export function renderReview(submitted, csrf, fail, changed, mayDecide) {
  const table = /** @type {HTMLTableElement} */ (document.getElementById("review"));
  const empty = document.getElementById("review-empty");
  if (empty) empty.hidden = submitted.length > 0;
  fillTable(table, ["task", "annotator", "site", "labels", "view", "comment", "decision"], submitted.map((task) => {
    const comment = /** @type {HTMLTextAreaElement} */ (el("textarea", {
      "aria-label": `Comment for task ${task.id}`, rows: "2", maxlength: "4000" }));
    comment.value = drafts.get(task.id) ?? "";
    comment.addEventListener("input", () => drafts.set(task.id, comment.value));
    const decide = (/** @type {string} */ status) => async () => {
      // The API refuses it too (400); asking first keeps a refused request out of the console.
      if (status === "rejected" && !comment.value.trim()) {
        fail(new Error("A rejection needs a comment: tell the annotator what to change."));
        comment.focus();
        return;
      }
      try {
        await api(`/api/tasks/${task.id}/status/`, { method: "POST", csrf,
          body: { status, comment: comment.value } });
        drafts.delete(task.id);
        changed();
      } catch (error) { fail(error); }
    };
    const approve = el("button", { type: "button", "aria-label": `Approve task ${task.id}` }, "Approve");
    const reject = el("button", { type: "button", "aria-label": `Reject task ${task.id}` }, "Reject");
    approve.addEventListener("click", decide("approved"));
    reject.addEventListener("click", decide("rejected"));
    if (!mayDecide) { approve.setAttribute("disabled", ""); reject.setAttribute("disabled", ""); }
    return el("tr", { "data-review": String(task.id) }, el("td", {}, `#${task.id}`),
      el("td", {}, task.assignee ? task.assignee.username : "—"), el("td", {}, task.site_name),
      el("td", {}, String(task.label_count)), el("td", {}, viewerLink(task)), el("td", {}, comment),
      el("td", {}, approve, " ", reject));
  }));
}
