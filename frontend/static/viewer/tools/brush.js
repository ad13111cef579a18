// Brush and eraser: one binary mask per label per frame (rows × columns of the frame), painted with
// a round brush of adjustable size; a whole stroke is one undoable edit.

import { clone, newUid, sameFrame } from "../annotations.js";

/** @typedef {import("./registry.js").Tool} Tool */
/** @typedef {import("./registry.js").ToolContext} ToolContext */

/** @param {Uint8Array} data @param {number} columns @param {number} rows @param {number[]} p @param {number} radius @param {number} value */
function disk(data, columns, rows, p, radius, value) {
  const r2 = radius * radius;
  const y0 = Math.max(0, Math.floor(p[1] - radius));
  const y1 = Math.min(rows - 1, Math.ceil(p[1] + radius));
  const x0 = Math.max(0, Math.floor(p[0] - radius));
  const x1 = Math.min(columns - 1, Math.ceil(p[0] + radius));
  for (let y = y0; y <= y1; y += 1) {
    const dy = y + 0.5 - p[1];
    for (let x = x0; x <= x1; x += 1) {
      const dx = x + 0.5 - p[0];
      if (dx * dx + dy * dy <= r2) data[y * columns + x] = value;
    }
  }
}

/** @param {Uint8Array} data @param {number} columns @param {number} rows @param {number[]} a @param {number[]} b @param {number} radius @param {number} value */
function line(data, columns, rows, a, b, radius, value) {
  const steps = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) / Math.max(radius / 2, 0.5)));
  for (let i = 0; i <= steps; i += 1) {
    const t = i / steps;
    disk(data, columns, rows, [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t], radius, value);
  }
}

/** @param {string} name @param {number} value */
function maskTool(name, value) {
  /** @type {Tool} */
  const tool = {
    name, kind: "mask", cursor: "cell",
    down(ctx, p) {
      const label = ctx.label("mask");
      const frame = ctx.frame();
      if (!label || !frame) {
        ctx.notify("Choose a mask label first.");
        return;
      }
      const { columns, rows } = ctx.viewport;
      const existing = ctx.store.all().find((a) => a.mask && a.label === label && sameFrame(a.frame, frame));
      if (!existing && value === 0) return;
      /** @type {any} */
      const working = existing ? clone(existing) : {
        uid: newUid(), tool: "brush", label, frame, geometry: { points: [] },
        mask: { rows, columns, data: new Uint8Array(rows * columns) },
      };
      ctx.state.stroke = { before: existing ?? null, working, last: p };
      disk(working.mask.data, columns, rows, p, ctx.brushSize / 2, value);
    },
    move(ctx, p) {
      const stroke = ctx.state.stroke;
      ctx.state.hover = p;
      if (!stroke) return;
      const { rows, columns, data } = stroke.working.mask;
      line(data, columns, rows, stroke.last, p, ctx.brushSize / 2, value);
      stroke.last = p;
    },
    up(ctx) {
      const stroke = ctx.state.stroke;
      ctx.state.stroke = null;
      if (!stroke) return;
      const empty = !stroke.working.mask.data.includes(1);
      ctx.store.edit(`${name} stroke`, [{ before: stroke.before, after: empty ? null : stroke.working }]);
    },
    teardown(ctx) {
      ctx.state.stroke = null;
    },
    preview(ctx, draw) {
      if (ctx.state.stroke) draw.mask(ctx.state.stroke.working, value ? 0.5 : 0.3, true);
      if (ctx.state.hover) draw.circle(ctx.state.hover, ctx.brushSize / 2);
    },
  };
  return tool;
}

/** @type {Tool[]} */
export const BRUSH_TOOLS = [maskTool("brush", 1), maskTool("eraser", 0)];
