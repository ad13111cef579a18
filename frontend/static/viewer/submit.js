// Submitting the task: save first, then move it to "submitted" through the task status API.

import { apiCall } from "./api.js";

/**
 * @param {{data: any, task: any, saver: import("./save.js").Saver, notify: (t: string) => void}} options
 */
export async function submitTask({ data, task, saver, notify }) {
  if (saver.dirty) {
    saver.save();
    notify("Saving before submitting… press Submit again once it reads “Saved at site”.");
    return;
  }
  try {
    if (["pending", "rejected"].includes(task.status)) {
      const moved = await apiCall(data.urls.status, { method: "POST", body: { status: "in_progress" } });
      task.status = moved.status;
    }
    const done = await apiCall(data.urls.status, { method: "POST", body: { status: "submitted" } });
    task.status = done.status;
    const state = document.getElementById("task-state");
    if (state) state.textContent = "submitted";
    notify(data.urls.next ? "Task submitted. Press N for the next task." : "Task submitted. No more open tasks.");
  } catch (error) {
    notify(`Could not submit: ${/** @type {Error} */ (error).message}`);
  }
}
