// The canvas viewport: one drawImage per painted frame on the image canvas, annotations on an
// overlay canvas, both repainted in one requestAnimationFrame (coalesced). Image coordinates are
// the frame's pixel grid (x = column, y = row, top-left corner of the image is (0, 0)); the view
// transform (zoom, pan) only maps them to the screen.

/** @typedef {import("./bus.js").Bus} Bus */

export class Viewport {
  /**
   * @param {{bus: Bus, element: HTMLElement, image: HTMLCanvasElement, overlay: HTMLCanvasElement,
   *   drawOverlay: (ctx: CanvasRenderingContext2D, view: Viewport) => void,
   *   hasOverlay: () => boolean}} options
   */
  constructor({ bus, element, image, overlay, drawOverlay, hasOverlay }) {
    this.hasOverlay = hasOverlay;
    this.overlayBlank = true;
    this.bus = bus;
    this.element = element;
    this.imageCanvas = image;
    this.overlayCanvas = overlay;
    this.drawOverlay = drawOverlay;
    this.imageCtx = /** @type {CanvasRenderingContext2D} */ (image.getContext("2d", { alpha: false }));
    this.overlayCtx = /** @type {CanvasRenderingContext2D} */ (overlay.getContext("2d"));
    /** @type {?ImageBitmap} */
    this.bitmap = null;
    /** @type {any} */
    this.header = null;
    this.columns = 0;
    this.rows = 0;
    this.zoom = 1; // relative to fit
    this.panX = 0;
    this.panY = 0;
    this.invert = false;
    this.imageDirty = false;
    this.overlayDirty = false;
    this.scheduled = false;
    /** @type {Array<() => void>} */
    this.afterPaint = [];
    this.dpr = window.devicePixelRatio || 1;
    new ResizeObserver(() => this.resize()).observe(element);
    this.resize();
  }

  resize() {
    const { clientWidth: w, clientHeight: h } = this.element;
    this.dpr = window.devicePixelRatio || 1;
    for (const canvas of [this.imageCanvas, this.overlayCanvas]) {
      canvas.width = Math.max(1, Math.round(w * this.dpr));
      canvas.height = Math.max(1, Math.round(h * this.dpr));
    }
    this.overlayBlank = true; // resizing a canvas clears it
    this.invalidate(true);
  }

  /**
   * Show a decoded frame; `done` runs once it is on screen.
   * @param {ImageBitmap} bitmap @param {any} header @param {() => void} [done]
   */
  show(bitmap, header, done) {
    const columns = header.columns ?? bitmap.width;
    const rows = header.rows ?? bitmap.height;
    if (columns !== this.columns || rows !== this.rows) {
      this.columns = columns;
      this.rows = rows;
      this.zoom = 1;
      this.panX = this.panY = 0;
    }
    this.bitmap = bitmap;
    this.header = header;
    if (done) this.afterPaint.push(done);
    this.invalidate(true);
  }

  /** @param {boolean} [image] also repaint the image layer */
  invalidate(image = false) {
    this.imageDirty ||= image;
    this.overlayDirty = true;
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.paint());
  }

  paint() {
    const started = performance.now();
    this.scheduled = false;
    const t = this.transform();
    if (this.imageDirty) {
      this.imageDirty = false;
      const ctx = this.imageCtx;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, this.imageCanvas.width, this.imageCanvas.height);
      if (this.bitmap) {
        ctx.filter = this.invert ? "invert(1)" : "none";
        ctx.imageSmoothingEnabled = t.scale < 2;
        ctx.drawImage(this.bitmap, t.x, t.y, this.columns * t.scale, this.rows * t.scale);
        ctx.filter = "none";
      }
    }
    if (this.overlayDirty) {
      this.overlayDirty = false;
      // A blank overlay left untouched costs the compositor nothing: scrolling unlabelled slices
      // repaints one layer, not two.
      const wanted = !!this.bitmap && this.hasOverlay();
      if (wanted || !this.overlayBlank) {
        const ctx = this.overlayCtx;
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.clearRect(0, 0, this.overlayCanvas.width, this.overlayCanvas.height);
        if (wanted) this.drawOverlay(ctx, this);
        this.overlayBlank = !wanted;
      }
    }
    const callbacks = this.afterPaint;
    this.afterPaint = [];
    if (callbacks.length && this.header) {
      const h = this.header;
      this.bus.emit("painted", {
        index: h.index, plane: h.plane, quality: h.quality, seq: h.seq, source: h.source,
        at: performance.now(), paintMs: performance.now() - started,
      });
    }
    for (const fn of callbacks) fn();
  }

  /** Device-pixel transform: screen = image * scale + (x, y). */
  transform() {
    const cw = this.imageCanvas.width;
    const ch = this.imageCanvas.height;
    const fit = this.columns && this.rows ? Math.min(cw / this.columns, ch / this.rows) : 1;
    const scale = fit * this.zoom;
    const x = (cw - this.columns * scale) / 2 + this.panX * this.dpr;
    const y = (ch - this.rows * scale) / 2 + this.panY * this.dpr;
    return { scale, x, y };
  }

  /** CSS pixels per image pixel (for tools sizing handles). */
  get cssScale() {
    return this.transform().scale / this.dpr;
  }

  /** @param {number} clientX @param {number} clientY @returns {[number, number]} */
  toImage(clientX, clientY) {
    const rect = this.imageCanvas.getBoundingClientRect();
    const t = this.transform();
    const dx = (clientX - rect.left) * this.dpr;
    const dy = (clientY - rect.top) * this.dpr;
    return [(dx - t.x) / t.scale, (dy - t.y) / t.scale];
  }

  /** @param {number} x @param {number} y @returns {[number, number]} device pixels on the canvas */
  toCanvas(x, y) {
    const t = this.transform();
    return [x * t.scale + t.x, y * t.scale + t.y];
  }

  /** @param {number} factor @param {?[number, number]} [at] client point that stays put */
  zoomBy(factor, at = null) {
    const next = Math.min(40, Math.max(0.1, this.zoom * factor));
    if (at) {
      const rect = this.imageCanvas.getBoundingClientRect();
      const cx = at[0] - rect.left - rect.width / 2 - this.panX;
      const cy = at[1] - rect.top - rect.height / 2 - this.panY;
      const ratio = next / this.zoom;
      this.panX -= cx * (ratio - 1);
      this.panY -= cy * (ratio - 1);
    }
    this.zoom = next;
    this.changed();
  }

  /** @param {number} dx @param {number} dy CSS pixels */
  panBy(dx, dy) {
    this.panX += dx;
    this.panY += dy;
    this.changed();
  }

  fit() {
    this.zoom = 1;
    this.panX = this.panY = 0;
    this.changed();
  }

  reset() {
    this.invert = false;
    this.fit();
  }

  toggleInvert() {
    this.invert = !this.invert;
    this.changed();
  }

  changed() {
    this.invalidate(true);
    this.bus.emit("view", { zoom: this.zoom, panX: this.panX, panY: this.panY, invert: this.invert });
  }
}
