// Included selections → "create tasks" for the chosen readers (one task per series and reader).

import { api } from "./api.js";
import { el, fillTable } from "./dom.js";

/**
 * @param {any[]} selections from GET /api/projects/<id>/selections/
 * @param {Record<string, string>} reasons key → code meaning
 * @param {((selection: any) => void) | null} withdraw the lead's Withdraw button (null: read only)
 */
export function renderSelections(selections, reasons, withdraw) {
  const table = /** @type {HTMLTableElement} */ (document.getElementById("selections"));
  const headings = ["use", "site", "study", "series", "decision", "reason", "KOS at site"];
  fillTable(table, withdraw ? [...headings, ""] : headings,
    selections.map((sel) => {
      const box = el("input", { type: "checkbox", name: "selection", value: String(sel.id),
        "aria-label": `Use series ${sel.series_handle}` });
      const checkbox = /** @type {HTMLInputElement} */ (box);
      checkbox.checked = sel.decision === "include";
      checkbox.disabled = sel.decision !== "include";
      const row = el("tr", { "data-selection": String(sel.id) }, el("td", {}, box), el("td", {}, sel.site_name),
        el("td", {}, sel.study_handle), el("td", {}, sel.series_handle), el("td", {}, sel.decision),
        el("td", {}, reasons[sel.reason] ?? sel.reason_code_meaning), el("td", {}, sel.kos_state));
      if (withdraw) {
        const button = el("button", { type: "button", "aria-label": `Withdraw series ${sel.series_handle}` },
          "Withdraw");
        button.addEventListener("click", () => {
          /** @type {HTMLButtonElement} */ (button).disabled = true;
          withdraw(sel);
        });
        row.append(el("td", {}, button));
      }
      return row;
    }));
}

/**
 * Withdrawn selections whose KOS a site has not retired yet (it was away, or refused).
 * @param {any[]} withdrawals from GET /api/projects/<id>/withdrawals/
 */
export function renderWithdrawals(withdrawals) {
  const section = /** @type {HTMLElement} */ (document.getElementById("withdrawals-section"));
  const table = /** @type {HTMLTableElement} */ (document.getElementById("withdrawals"));
  section.hidden = withdrawals.length === 0;
  fillTable(table, ["site", "series", "withdrawn (UTC)", "at the site"], withdrawals.map((w) =>
    el("tr", { "data-withdrawal": String(w.id), "data-state": w.state }, el("td", {}, w.site_name),
      el("td", {}, w.series_handle), el("td", {}, w.requested_at.slice(0, 16).replace("T", " ")),
      el("td", {}, w.state === "failed" ? `refused (${w.code})` : "waiting for the site"))));
}

/**
 * @param {any} data the page's json_script data
 * @param {string} csrf
 * @param {() => void} done called after tasks were created
 */
export function setUpBulkForm(data, csrf, done) {
  const readers = /** @type {HTMLElement} */ (document.getElementById("bulk-readers"));
  readers.replaceChildren(...data.members.map((/** @type {any} */ m) =>
    el("label", {}, el("input", { type: "checkbox", name: "reader", value: String(m.id) }), ` ${m.username}`)));
  const schema = /** @type {HTMLSelectElement} */ (document.getElementById("bulk-schema"));
  schema.replaceChildren(...data.schemas.map((/** @type {any} */ s) =>
    el("option", { value: String(s.id) }, `version ${s.version}`)));
  const form = /** @type {HTMLFormElement} */ (document.getElementById("bulk-form"));
  const result = /** @type {HTMLOutputElement} */ (document.getElementById("bulk-result"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = (/** @type {string} */ name) => [...form.ownerDocument.querySelectorAll(
      `input[name="${name}"]:checked`)].map((box) => Number(/** @type {HTMLInputElement} */ (box).value));
    const due = /** @type {HTMLInputElement} */ (document.getElementById("bulk-due")).value;
    try {
      const body = await api(`/api/projects/${data.project.id}/tasks/bulk/`, {
        method: "POST", csrf,
        body: { selections: picked("selection"), readers: picked("reader"),
          label_schema: Number(schema.value), due_date: due || null },
      });
      result.textContent = `${body.created.length} tasks created, ${body.skipped.length} already existed.`;
      done();
    } catch (error) {
      result.textContent = `Not created: ${/** @type {Error} */ (error).message}`;
    }
  });
}
