// Building DOM from server data with textContent only: no server string is parsed as HTML.

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs] attributes (data-*, aria-*, type, …)
 * @param {(Node|string)[]} children strings become text nodes
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(typeof child === "string" ? document.createTextNode(child) : child);
  return node;
}

/** @param {HTMLTableElement} table @param {string[]} headings @param {Node[]} rows */
export function fillTable(table, headings, rows) {
  const head = el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col" }, h))));
  table.replaceChildren(head, el("tbody", {}, ...rows));
}

/** @param {string} status */
export function statusLabel(status) {
  return status.replace("_", " ");
}
