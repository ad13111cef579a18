// Active Secure Access sessions with a Revoke button (POST /api/sessions/<id>/revoke/).
// Values go in through textContent only; errors show the API's {"error": {code, message}} body.

/**
 * @typedef {{id:string, user:string, task_id:number, project:string, site:string,
 *   created_at:string, expires_at:string, can_revoke:boolean}} SessionRow
 */

const table = /** @type {HTMLTableElement|null} */ (document.getElementById("sessions"));
const body = document.getElementById("session-rows");
const status = document.getElementById("revoke-status");
const dialog = /** @type {HTMLDialogElement|null} */ (document.getElementById("revoke-dialog"));
const form = /** @type {HTMLFormElement|null} */ (document.getElementById("revoke-form"));
const reasonInput = /** @type {HTMLInputElement|null} */ (document.getElementById("revoke-reason"));

/** @type {SessionRow|null} */
let pending = null;

/** @param {string} text @param {boolean} [isError] */
function say(text, isError = false) {
  if (!status) return;
  status.textContent = text;
  status.classList.toggle("error", isError);
}

/** @param {string} iso */
const utc = (iso) => iso.replace(/\.\d+/, "").replace("+00:00", "Z");

/** @param {SessionRow} session @returns {HTMLTableRowElement} */
export function sessionRow(session) {
  const row = document.createElement("tr");
  row.dataset.sessionId = session.id;
  for (const text of [
    session.user,
    `#${session.task_id}`,
    session.project,
    session.site,
    utc(session.created_at),
    utc(session.expires_at),
  ]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  const actions = document.createElement("td");
  if (session.can_revoke) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Revoke";
    button.setAttribute("aria-label", `Revoke ${session.user}'s session on task ${session.task_id}`);
    button.addEventListener("click", () => openDialog(session));
    actions.append(button);
  }
  row.append(actions);
  return row;
}

/** @param {SessionRow} session */
function openDialog(session) {
  pending = session;
  const who = document.getElementById("revoke-who");
  if (who) who.textContent = `${session.user} · task #${session.task_id} · ${session.site}`;
  if (reasonInput) reasonInput.value = "";
  dialog?.showModal();
}

/**
 * The error line for a failed revoke: the API's coded body when there is one.
 * @param {Response} response @returns {Promise<string>}
 */
export async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.code === "string") {
      return `Revoke failed: ${body.error.message} (${body.error.code})`;
    }
  } catch {
    // not JSON (e.g. a proxy's error page): fall through to the status line
  }
  return `Revoke failed: HTTP ${response.status} ${response.statusText}`.trim();
}

/** @param {SessionRow} session @param {string} reason */
async function revoke(session, reason) {
  if (!table) return;
  const url = (table.dataset.revokeUrl ?? "").replace("{id}", encodeURIComponent(session.id));
  say("Revoking…");
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": table.dataset.csrf ?? "",
      },
      body: JSON.stringify({ reason }),
    });
  } catch {
    say("Revoke failed: the server could not be reached.", true);
    return;
  }
  if (!response.ok) {
    say(await errorText(response), true);
    return;
  }
  document.querySelector(`tr[data-session-id="${CSS.escape(session.id)}"]`)?.remove();
  say(`Revoked ${session.user}'s session on task #${session.task_id}.`);
  const empty = document.getElementById("no-sessions");
  if (empty && body) empty.hidden = body.children.length > 0;
}

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  const reason = reasonInput?.value.trim() ?? "";
  if (!reason || !pending) return;
  const session = pending;
  pending = null;
  dialog?.close();
  void revoke(session, reason);
});
document.getElementById("revoke-cancel")?.addEventListener("click", () => {
  pending = null;
  dialog?.close();
});

const data = document.getElementById("sessions-data");
if (data && body) {
  /** @type {SessionRow[]} */
  const sessions = JSON.parse(data.textContent ?? "[]");
  body.replaceChildren(...sessions.map(sessionRow));
  const empty = document.getElementById("no-sessions");
  if (empty) empty.hidden = sessions.length > 0;
}
