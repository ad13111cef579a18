// Classification labels at image, series or study level, from the schema's classification entries.

import { newUid } from "./annotations.js";

/**
 * @param {{dialog: HTMLDialogElement, entries: import("./labels.js").LabelEntry[],
 *   store: import("./annotations.js").AnnotationStore,
 *   frame: () => ?import("./annotations.js").FrameRef, editable: () => boolean}} options
 */
export function bindClassify({ dialog, entries, store, frame, editable }) {
  const choices = entries.filter((e) => e.kind === "classification");
  const list = /** @type {HTMLElement} */ (dialog.querySelector("[data-classify-labels]"));
  const existing = /** @type {HTMLElement} */ (dialog.querySelector("[data-classify-existing]"));
  const level = /** @type {HTMLSelectElement} */ (dialog.querySelector("[data-classify-level]"));
  const add = /** @type {HTMLButtonElement} */ (dialog.querySelector("[data-classify-add]"));

  list.replaceChildren(...choices.map((entry, i) => {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "classify-label";
    radio.value = entry.key;
    radio.checked = i === 0;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = entry.colour;
    const text = document.createElement("span");
    text.textContent = entry.code_meaning;
    label.append(radio, swatch, text);
    return label;
  }));
  if (!choices.length) list.textContent = "This task's schema has no classification labels.";

  const render = () => {
    const items = store.all().filter((a) => a.tool === "classification");
    existing.replaceChildren(...items.map((a) => {
      const li = document.createElement("li");
      const text = document.createElement("span");
      const meaning = choices.find((e) => e.key === a.label)?.code_meaning ?? a.label;
      const where = a.level === "image" && a.frame ? ` (image ${a.frame.index + 1})` : "";
      text.textContent = `${meaning} · ${a.level}${where}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove ${meaning} (${a.level})`);
      remove.disabled = !editable();
      remove.addEventListener("click", () => {
        store.remove(a.uid);
        render();
      });
      li.append(text, remove);
      return li;
    }));
  };

  add.addEventListener("click", () => {
    const key = /** @type {?HTMLInputElement} */ (list.querySelector("input:checked"))?.value;
    const at = frame();
    if (!key || !at || !editable()) return;
    const chosen = level.value;
    store.add({
      uid: newUid(), tool: "classification", label: key, level: chosen,
      frame: chosen === "study" ? null : chosen === "series" ? { series: at.series, index: at.index, plane: at.plane } : at,
      geometry: { points: [] },
    });
    render();
  });

  return {
    open() {
      render();
      dialog.showModal();
    },
  };
}
