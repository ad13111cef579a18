// "My tasks": rows built with textContent only (no server string is ever parsed as HTML).

/** @typedef {{id:number, project_name:string, site_name:string, status:string, due_date:?string, label_count:number}} TaskRow */

/** @param {TaskRow[]} tasks @param {HTMLElement} body */
export function renderWorklist(tasks, body) {
  body.replaceChildren(
    ...tasks.map((task) => {
      const row = document.createElement("tr");
      row.dataset.taskId = String(task.id);
      for (const text of [
        `#${task.id}`,
        task.project_name,
        task.site_name,
        task.status.replace("_", " "),
        task.due_date ?? "—",
        String(task.label_count),
      ]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
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
}
