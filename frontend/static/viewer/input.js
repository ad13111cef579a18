// Pointer and wheel input on the viewport: left button → the active tool, right-drag → window/level,
// middle-drag → pan, wheel → slices (Ctrl+wheel → zoom).

/** @typedef {import("./viewport.js").Viewport} Viewport */
/** @typedef {import("./tools/registry.js").ToolRegistry} ToolRegistry */

/**
 * @param {{viewport: Viewport, tools: ToolRegistry, scroll: (delta: number) => void,
 *   windowing: {begin: (e: PointerEvent) => any, drag: (e: PointerEvent) => void, end: () => void}}} options
 */
export function bindPointer({ viewport, tools, scroll, windowing }) {
  const surface = viewport.overlayCanvas;
  /** @type {?number} */
  let mode = null; // button held: 0 tool, 1 pan, 2 window
  /** @type {?[number, number]} */
  let last = null;
  let wheelRest = 0;

  surface.addEventListener("contextmenu", (e) => e.preventDefault());
  surface.addEventListener("pointerdown", (e) => {
    if (mode !== null) return;
    surface.setPointerCapture(e.pointerId);
    surface.focus({ preventScroll: true });
    mode = e.button;
    last = [e.clientX, e.clientY];
    if (mode === 2) windowing.begin(e);
    else if (mode === 0) tools.pointer("down", viewport.toImage(e.clientX, e.clientY), e);
    e.preventDefault();
  });
  surface.addEventListener("pointermove", (e) => {
    if (mode === 2) windowing.drag(e);
    else if (mode === 1 && last) {
      viewport.panBy(e.clientX - last[0], e.clientY - last[1]);
      last = [e.clientX, e.clientY];
    } else tools.pointer("move", viewport.toImage(e.clientX, e.clientY), e);
  });
  const release = (/** @type {PointerEvent} */ e) => {
    if (mode === 2) windowing.end();
    else if (mode === 0) tools.pointer("up", viewport.toImage(e.clientX, e.clientY), e);
    mode = null;
    last = null;
  };
  surface.addEventListener("pointerup", release);
  surface.addEventListener("pointercancel", release);
  surface.addEventListener("dblclick", (e) => tools.dblclick(viewport.toImage(e.clientX, e.clientY)));
  surface.addEventListener("wheel", (e) => {
    e.preventDefault();
    if (e.ctrlKey) {
      viewport.zoomBy(Math.exp(-e.deltaY / 300), [e.clientX, e.clientY]);
      return;
    }
    // Mouse wheels send ±100 per notch, trackpads many small deltas: one slice per 100 units.
    wheelRest += e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
    const steps = Math.trunc(wheelRest / 100) || (Math.abs(e.deltaY) >= 50 ? Math.sign(e.deltaY) : 0);
    if (steps) {
      wheelRest = 0;
      scroll(steps);
    }
  }, { passive: false });
}

/**
 * Window/level by dragging: horizontal → width, vertical → centre, scaled by the current width.
 * @param {{current: () => ?{center:number, width:number},
 *   apply: (w: {center:number, width:number}, moving: boolean) => void}} options
 */
export function createWindowing({ current, apply }) {
  /** @type {?{x:number, y:number, center:number, width:number}} */
  let start = null;
  /** @type {?{center:number, width:number}} */
  let latest = null;
  return {
    /** @param {PointerEvent} e */
    begin(e) {
      const w = current() ?? { center: 40, width: 400 };
      start = { x: e.clientX, y: e.clientY, ...w };
      latest = null;
      return start;
    },
    /** @param {PointerEvent} e */
    drag(e) {
      if (!start) return;
      const k = Math.max(1, start.width / 256);
      latest = {
        width: Math.max(1, Math.round(start.width + (e.clientX - start.x) * k)),
        center: Math.round(start.center + (e.clientY - start.y) * k),
      };
      apply(latest, true);
    },
    end() {
      if (start && latest) apply(latest, false);
      start = null;
    },
  };
}
