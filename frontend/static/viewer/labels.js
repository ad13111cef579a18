// The label picker: the task's coded schema, filtered by the active tool's kind, searchable, with
// colours; each entry can be hidden or shown. Schema strings go in as textContent only.

/** @typedef {import("./bus.js").Bus} Bus */
/** @typedef {{key:string, code_value:string, coding_scheme:string, code_meaning:string, kind:string, colour:string}} LabelEntry */

export class LabelPicker {
  /**
   * @param {{bus: Bus, root: HTMLElement, entries: LabelEntry[],
   *   setHidden: (key: string, hidden: boolean) => void, isHidden: (key: string) => boolean}} options
   */
  constructor({ bus, root, entries, setHidden, isHidden }) {
    this.isHidden = isHidden;
    this.bus = bus;
    this.entries = entries;
    this.setHidden = setHidden;
    /** @type {Map<string, string>} kind → chosen key */
    this.chosen = new Map();
    /** @type {?string} */
    this.kind = null;
    this.search = /** @type {HTMLInputElement} */ (root.querySelector("[data-label-search]"));
    this.list = /** @type {HTMLElement} */ (root.querySelector("[data-label-list]"));
    this.search.addEventListener("input", () => this.render());
    bus.on("tool", () => this.render());
    this.render();
  }

  /** @param {?string} key @returns {string} */
  colour(key) {
    return this.entries.find((e) => e.key === key)?.colour ?? "#ffffff";
  }

  /** @param {string} kind @returns {?string} the chosen label of this kind (the first by default) */
  label(kind) {
    const chosen = this.chosen.get(kind);
    if (chosen) return chosen;
    return this.entries.find((e) => e.kind === kind)?.key ?? null;
  }

  /** @param {?string} kind the active tool's kind; null shows every label */
  setKind(kind) {
    this.kind = kind;
    this.render();
  }

  /** @param {string} key */
  choose(key) {
    const entry = this.entries.find((e) => e.key === key);
    if (!entry) return;
    this.chosen.set(entry.kind, key);
    this.bus.emit("label", { key });
    this.render();
  }

  render() {
    const query = this.search.value.trim().toLowerCase();
    const shown = this.entries.filter(
      (e) => (!this.kind || e.kind === this.kind) &&
        (!query || `${e.code_meaning} ${e.key} ${e.code_value}`.toLowerCase().includes(query)),
    );
    this.list.replaceChildren(...shown.map((entry) => this.item(entry)));
    if (shown.length === 0) {
      const empty = document.createElement("li");
      empty.className = "label-empty";
      empty.textContent = this.kind ? `No ${this.kind} labels in this task's schema.` : "No labels.";
      this.list.append(empty);
    }
  }

  /** @param {LabelEntry} entry */
  item(entry) {
    const li = document.createElement("li");
    const pick = document.createElement("button");
    pick.type = "button";
    pick.className = "label-pick";
    pick.dataset.labelKey = entry.key;
    const selected = this.label(entry.kind) === entry.key;
    pick.setAttribute("aria-pressed", String(selected));
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = entry.colour;
    const name = document.createElement("span");
    name.textContent = entry.code_meaning;
    const code = document.createElement("small");
    code.textContent = `${entry.coding_scheme} ${entry.code_value} · ${entry.kind}`;
    pick.append(swatch, name, code);
    pick.addEventListener("click", () => this.choose(entry.key));
    const eye = document.createElement("button");
    eye.type = "button";
    eye.className = "label-eye";
    const hidden = this.isHidden(entry.key);
    eye.setAttribute("aria-label", `${hidden ? "Show" : "Hide"} ${entry.code_meaning}`);
    eye.setAttribute("aria-pressed", String(hidden));
    eye.textContent = hidden ? "Show" : "Hide";
    eye.addEventListener("click", () => {
      const hide = eye.getAttribute("aria-pressed") !== "true";
      eye.setAttribute("aria-pressed", String(hide));
      eye.setAttribute("aria-label", `${hide ? "Show" : "Hide"} ${entry.code_meaning}`);
      eye.textContent = hide ? "Show" : "Hide";
      this.setHidden(entry.key, hide);
    });
    li.append(pick, eye);
    return li;
  }
}
