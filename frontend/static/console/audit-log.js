// Audit log rows, built with textContent only: every value (user names, actions, detail) is
// data, never markup. Server data arrives through json_script ("audit-events").

/**
 * @typedef {{seq:number, occurred_at:string, actor_id:?number, actor_name:string, action:string,
 *   outcome:number, outcome_label:string, object_type:string, object_id:string,
 *   project_id:?number, site_id:?number, source_address:string, detail:Object}} AuditRow
 */

/**
 * A link that narrows the current filter by one more field (keeps the rest of the query).
 * @param {string} text @param {string} name @param {string} value
 */
function filterLink(text, name, value) {
  const params = new URLSearchParams(window.location.search);
  params.set(name, value);
  params.delete("before");
  params.delete("after");
  const link = document.createElement("a");
  link.href = `?${params}`;
  link.textContent = text;
  link.title = `Only ${name} ${value}`;
  return link;
}

/** @param {AuditRow} event @returns {HTMLTableRowElement} */
export function auditRow(event) {
  const row = document.createElement("tr");
  row.dataset.seq = String(event.seq);
  if (event.outcome > 0) row.classList.add("failure");
  const objectRef = event.object_type
    ? `${event.object_type}${event.object_id ? `:${event.object_id}` : ""}`
    : "";
  const cells = [
    `#${event.seq}`,
    event.occurred_at.replace("+00:00", "Z"),
    event.actor_name ? filterLink(event.actor_name, "actor", event.actor_name) : "system",
    filterLink(event.action, "action", event.action),
    event.outcome_label,
    objectRef ? filterLink(objectRef, "object", objectRef) : "—",
    event.project_id == null ? "—" : filterLink(String(event.project_id), "project", String(event.project_id)),
    event.site_id == null ? "—" : filterLink(String(event.site_id), "site", String(event.site_id)),
    event.source_address || "—",
    Object.keys(event.detail ?? {}).length ? JSON.stringify(event.detail) : "",
  ];
  for (const value of cells) {
    const cell = document.createElement("td");
    if (typeof value === "string") cell.textContent = value;
    else cell.append(value);
    row.append(cell);
  }
  row.lastElementChild?.classList.add("detail");
  return row;
}

/** @param {AuditRow[]} events @param {HTMLElement} body */
export function renderAuditRows(events, body) {
  body.replaceChildren(...events.map(auditRow));
}

const data = document.getElementById("audit-events");
const body = document.getElementById("audit-rows");
if (data && body) {
  /** @type {AuditRow[]} */
  const events = JSON.parse(data.textContent ?? "[]");
  renderAuditRows(events, body);
  const empty = document.getElementById("no-events");
  if (empty) empty.hidden = events.length > 0;
}
