// The text overlay and the retrieval progress bar. Series facts come from the site (de-identified,
// but DICOM-derived): they are set with textContent only, never as HTML.

/** @typedef {import("./bus.js").Bus} Bus */

export class Overlay {
  /** @param {{bus: Bus, root: HTMLElement}} options */
  constructor({ bus, root }) {
    /** @param {string} name */
    const slot = (name) => /** @type {HTMLElement} */ (root.querySelector(`[data-overlay="${name}"]`));
    this.series = slot("series");
    this.slice = slot("slice");
    this.window = slot("window");
    this.quality = slot("quality");
    this.progress = /** @type {HTMLProgressElement} */ (root.querySelector("[data-progress]"));
    this.progressText = slot("progress");
    /** @type {any} */
    this.info = null;
    this.zoom = 1;
    /** @type {?{center:number, width:number}} */
    this.shownWindow = null;
    bus.on("series", (info) => this.setSeries(info));
    bus.on("progress", (p) => this.setProgress(p));
    bus.on("view", ({ zoom }) => {
      this.zoom = zoom;
      this.renderWindow();
    });
  }

  /** @param {any} info series.info */
  setSeries(info) {
    this.info = info;
    const facts = [info.modality, info.body_part, info.description].filter((v) => typeof v === "string" && v);
    const size = `${info.columns}×${info.rows}`;
    const spacing = Array.isArray(info.pixel_spacing)
      ? ` · ${info.pixel_spacing.map((/** @type {number} */ v) => v.toFixed(2)).join("×")} mm` : "";
    this.series.textContent = `${facts.join(" · ")}\n${size}${spacing}`;
  }

  /** @param {{received:number, total:number, done?:boolean, failed?:number}} p */
  setProgress(p) {
    const bar = this.progress.parentElement;
    if (bar) bar.hidden = !!p.done;
    this.progress.max = Math.max(1, p.total);
    this.progress.value = p.received;
    const failed = p.failed ? ` (${p.failed} failed)` : "";
    this.progressText.textContent = p.done ? "" : `Fetching at the site: ${p.received} / ${p.total}${failed}`;
  }

  /**
   * @param {{index:number, plane:string, slices:number, quality:string,
   *   window:?{center:number, width:number}}} state
   */
  setFrame({ index, plane, slices, quality, window }) {
    const position = plane === "axial" ? this.info?.positions?.[index] : null;
    const where = typeof position === "number" ? ` · ${position.toFixed(1)} mm` : "";
    this.slice.textContent = `${plane} ${index + 1} / ${slices}${where}`;
    this.quality.textContent = quality === "lossless" ? "Lossless" : "Preview";
    this.quality.dataset.quality = quality;
    if (window) this.shownWindow = window;
    this.renderWindow();
  }

  renderWindow() {
    const w = this.shownWindow;
    const text = w ? `W ${Math.round(w.width)} / L ${Math.round(w.center)}` : "W — / L —";
    this.window.textContent = `${text} · zoom ${Math.round(this.zoom * 100)}%`;
  }
}
