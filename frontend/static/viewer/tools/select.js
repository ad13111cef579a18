// Select, move, edit vertices and delete — regions, points, measurements and brush masks (a mask
// moves by whole pixels and stays on the image); plus the navigation tools (pan, zoom, window)
// for a left-button user.

import { clone } from "../annotations.js";
import { maskChanged } from "../draw.js";
import { angleOf, clampPoint, dist, hitDistance, lengthOf } from "./geometry.js";
import { clampShift, maskBounds, shiftMask } from "./masks.js";

/** @typedef {import("./registry.js").Tool} Tool */
/** @typedef {import("./registry.js").ToolContext} ToolContext */

const TOLERANCE_CSS_PX = 7;

/** @param {ToolContext} ctx @param {string|null} uid */
function choose(ctx, uid) {
  ctx.selected = uid;
  ctx.bus.emit("selection", { uid });
}

/** @param {ToolContext} ctx @param {any} a */
function remeasure(ctx, a) {
  if (a.tool === "length") a.measurement = lengthOf(a.geometry.points, ctx.spacing());
  if (a.tool === "angle") a.measurement = angleOf(a.geometry.points, ctx.spacing());
}

/** @type {Tool} */
const select = {
  name: "select", kind: null, cursor: "default",
  down(ctx, p) {
    const frame = ctx.frame();
    if (!frame) return;
    const tol = TOLERANCE_CSS_PX / Math.max(ctx.viewport.cssScale, 1e-6);
    const current = ctx.selected ? ctx.store.get(ctx.selected) : null;
    const vertex = current && !current.mask
      ? current.geometry.points.findIndex((q) => dist(q, p) <= tol) : -1;
    if (current && vertex >= 0 && ctx.editable()) {
      ctx.state.drag = { uid: current.uid, vertex, start: p, before: clone(current), moved: false };
      return;
    }
    let best = null;
    let bestDistance = tol;
    for (const a of ctx.store.onFrame(frame)) {
      const d = hitDistance(a, p);
      if (d <= bestDistance) {
        best = a;
        bestDistance = d;
      }
    }
    choose(ctx, best?.uid ?? null);
    if (best && ctx.editable()) {
      const box = best.mask ? maskBounds(best.mask) : null;
      if (best.mask && !box) return;
      ctx.state.drag = { uid: best.uid, vertex: -1, start: p, before: clone(best), moved: false, box };
    }
  },
  move(ctx, p) {
    const drag = ctx.state.drag;
    if (!drag) return;
    const live = ctx.store.items.get(drag.uid);
    if (!live) return;
    if (live.mask && drag.box) {
      const { columns, rows } = live.mask;
      const [dx, dy] = clampShift(drag.box, columns, rows, p[0] - drag.start[0], p[1] - drag.start[1]);
      if (dx === drag.dx && dy === drag.dy) return;
      drag.dx = dx;
      drag.dy = dy;
      shiftMask(drag.before.mask.data, live.mask.data, columns, rows, dx, dy); // live preview
      maskChanged(live.mask);
      drag.moved = dx !== 0 || dy !== 0;
      return;
    }
    const { columns, rows } = ctx.viewport;
    const points = drag.before.geometry.points.map((/** @type {number[]} */ q, /** @type {number} */ i) => {
      if (drag.vertex >= 0) return i === drag.vertex ? clampPoint(p, columns, rows) : q;
      return clampPoint([q[0] + p[0] - drag.start[0], q[1] + p[1] - drag.start[1]], columns, rows);
    });
    live.geometry = { points }; // live preview; committed as one edit on release
    remeasure(ctx, live);
    drag.moved = true;
  },
  up(ctx) {
    const drag = ctx.state.drag;
    ctx.state.drag = null;
    if (!drag?.moved) return;
    const after = clone(/** @type {any} */ (ctx.store.items.get(drag.uid)));
    if (after.tool === "rectangle" || after.tool === "ellipse") {
      const [[x0, y0], [x1, y1]] = after.geometry.points;
      after.geometry.points = [[Math.min(x0, x1), Math.min(y0, y1)], [Math.max(x0, x1), Math.max(y0, y1)]];
    }
    if (after.mask) maskChanged(after.mask);
    ctx.store.items.set(drag.uid, drag.before);
    ctx.store.edit(drag.vertex >= 0 ? `edit ${after.tool}` : `move ${after.tool}`, [{ before: drag.before, after }]);
  },
  key(ctx, e) {
    if ((e.key === "Delete" || e.key === "Backspace") && ctx.selected && ctx.editable()) {
      ctx.store.remove(ctx.selected);
      choose(ctx, null);
      return true;
    }
    if (e.key === "Escape" && ctx.selected) {
      choose(ctx, null);
      return true;
    }
    return false;
  },
};

/** @type {Tool} */
const pan = {
  name: "pan", kind: null, cursor: "grab",
  down(ctx, _p, e) {
    ctx.state.last = [e.clientX, e.clientY];
  },
  move(ctx, _p, e) {
    if (!ctx.state.last) return;
    ctx.viewport.panBy(e.clientX - ctx.state.last[0], e.clientY - ctx.state.last[1]);
    ctx.state.last = [e.clientX, e.clientY];
  },
  up(ctx) {
    ctx.state.last = null;
  },
};

/** @type {Tool} */
const zoom = {
  name: "zoom", kind: null, cursor: "zoom-in",
  down(ctx, _p, e) {
    ctx.state.last = e.clientY;
  },
  move(ctx, _p, e) {
    if (ctx.state.last === undefined || ctx.state.last === null) return;
    ctx.viewport.zoomBy(Math.exp((ctx.state.last - e.clientY) / 150));
    ctx.state.last = e.clientY;
  },
  up(ctx) {
    ctx.state.last = null;
  },
};

/** @type {Tool} */
const windowTool = {
  name: "window", kind: null, cursor: "ns-resize",
  down(ctx, _p, e) {
    ctx.state.window = ctx.windowing.begin(e);
  },
  move(ctx, _p, e) {
    if (ctx.state.window) ctx.windowing.drag(e);
  },
  up(ctx) {
    if (ctx.state.window) ctx.windowing.end();
    ctx.state.window = null;
  },
};

/** @type {Tool[]} */
export const SELECT_TOOLS = [select, pan, zoom, windowTool];
