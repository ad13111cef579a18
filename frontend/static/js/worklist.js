// "My tasks": rows built with textContent only (no server string is ever parsed as HTML).
// Each row opens its task in the viewer; "n" (or Enter on the page) opens the next open task.

/** @typedef {{id:number, project_name:string, site_name:string, status:string, due_date:?string, label_count:number, label_state:string}} TaskRow */

const OPEN = ["pending", "in_progress", "rejected"];

/** @param {number} id */
const viewerUrl = (id) => `/tasks/${id}/view/`;

/** @param {TaskRow[]} tasks @returns {?TaskRow} the open task due first (undated last) */
export function nextTask(tasks) {
  const open = tasks.filter((t) => OPEN.includes(t.status));
  open.sort((a, b) => (a.due_date ?? "9999").localeCompare(b.due_date ?? "9999") || a.id - b.id);
  return open[0] ?? null;
}

/** Where the reader's labels stand, as the site last reported it to central. */
const LABEL_STATES = /** @type {Record<string, string>} */ ({
  saved_at_site: "saved at site",
  stored_in_pacs: "stored in PACS",
  failed: "storing in PACS failed",
});

/** @param {TaskRow} task */
export function labelsText(task) {
  const state = LABEL_STATES[task.label_state];
  return state ? `${task.label_count} · ${state}` : String(task.label_count);
}

/** @param {TaskRow[]} tasks @param {HTMLElement} body */
export function renderWorklist(tasks, body) {
  body.replaceChildren(
    ...tasks.map((task) => {
      const row = document.createElement("tr");
      row.dataset.taskId = String(task.id);
      const texts = [
        task.project_name,
        task.site_name,
        task.status.replace("_", " "),
        task.due_date ?? "—",
        labelsText(task),
      ];
      const first = document.createElement("td");
      const link = document.createElement("a");
      link.href = viewerUrl(task.id);
      link.textContent = `#${task.id}`;
      link.setAttribute("aria-label", `Open task ${task.id} in the viewer`);
      first.append(link);
      row.append(first);
      for (const text of texts) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      row.addEventListener("click", (e) => {
        if (!(/** @type {HTMLElement} */ (e.target).closest("a"))) location.assign(viewerUrl(task.id));
      });
      return row;
    }),
  );
}

const data = document.getElementById("tasks-data");
const body = document.getElementById("task-rows");
if (data && body) {
  const tasks = JSON.parse(data.textContent ?? "[]");
  renderWorklist(tasks, body);
  const empty = document.getElementById("no-tasks");
  if (empty) empty.hidden = tasks.length > 0;
  const next = nextTask(tasks);
  const button = /** @type {?HTMLButtonElement} */ (document.getElementById("open-next"));
  if (button) {
    button.disabled = next === null;
    button.addEventListener("click", () => {
      if (next) location.assign(viewerUrl(next.id));
    });
  }
  window.addEventListener("keydown", (e) => {
    const target = e.target instanceof Element ? e.target : document.body;
    if (e.ctrlKey || e.altKey || e.metaKey || target.closest("input, textarea, select, button, a")) return;
    if ((e.key === "n" || e.key === "Enter") && next) {
      e.preventDefault();
      location.assign(viewerUrl(next.id));
    }
  });
}
