// Drawing tools that make geometric annotations: rectangle, ellipse, point, length, angle,
// polygon and freehand contour. Points are image coordinates, clamped to the image.

import { newUid } from "../annotations.js";
import { angleOf, clampPoint, dist, lengthOf } from "./geometry.js";

/** @typedef {import("./registry.js").Tool} Tool */
/** @typedef {import("./registry.js").ToolContext} ToolContext */

/** @param {ToolContext} ctx @param {number[]} p */
const clamp = (ctx, p) => clampPoint(p, ctx.viewport.columns, ctx.viewport.rows);

/**
 * @param {ToolContext} ctx @param {string} tool @param {string} kind @param {number[][]} points
 * @returns {boolean} whether it was stored
 */
function commit(ctx, tool, kind, points) {
  const label = ctx.label(kind);
  const frame = ctx.frame();
  if (!label || !frame) {
    ctx.notify(`Choose a ${kind} label first.`);
    return false;
  }
  /** @type {import("../annotations.js").Annotation} */
  const annotation = { uid: newUid(), tool, label, frame, geometry: { points } };
  if (tool === "length") annotation.measurement = lengthOf(points, ctx.spacing());
  if (tool === "angle") annotation.measurement = angleOf(points, ctx.spacing());
  ctx.store.add(annotation);
  ctx.selected = annotation.uid;
  ctx.bus.emit("selection", { uid: annotation.uid });
  return true;
}

/** A tool drawn by one drag from corner to corner (or end to end). */
function dragTool(/** @type {string} */ name, /** @type {string} */ kind, minSize = 1) {
  /** @type {Tool} */
  const tool = {
    name, kind,
    down(ctx, p) {
      ctx.state.drag = [clamp(ctx, p), clamp(ctx, p)];
    },
    move(ctx, p) {
      if (ctx.state.drag) ctx.state.drag[1] = clamp(ctx, p);
    },
    up(ctx, p) {
      const drag = ctx.state.drag;
      ctx.state.drag = null;
      if (!drag) return;
      drag[1] = clamp(ctx, p);
      const [a, b] = drag;
      if (Math.abs(a[0] - b[0]) < minSize || Math.abs(a[1] - b[1]) < minSize) {
        if (name === "length" && dist(a, b) >= minSize) commit(ctx, name, kind, drag);
        return;
      }
      const points = name === "length" ? drag : [
        [Math.min(a[0], b[0]), Math.min(a[1], b[1])], [Math.max(a[0], b[0]), Math.max(a[1], b[1])],
      ];
      commit(ctx, name, kind, points);
    },
    preview(ctx, draw) {
      if (ctx.state.drag) draw.shape({ tool: name, geometry: { points: ctx.state.drag } }, ctx.label(kind));
    },
  };
  return tool;
}

/** @type {Tool} */
const point = {
  name: "point", kind: "point",
  up(ctx, p) {
    commit(ctx, "point", "point", [clamp(ctx, p)]);
  },
};

/** Clicks that add vertices: angle stops at three, polygon closes on double-click, Enter or near the start. */
function clickTool(/** @type {string} */ name, /** @type {string} */ kind, /** @type {number} */ count) {
  /** @param {ToolContext} ctx */
  const finish = (ctx) => {
    const pts = ctx.state.points ?? [];
    ctx.state.points = null;
    if (pts.length >= (count || 3)) commit(ctx, name, kind, pts);
  };
  /** @type {Tool} */
  const tool = {
    name, kind,
    up(ctx, p) {
      const q = clamp(ctx, p);
      const pts = (ctx.state.points ??= []);
      const near = 8 / Math.max(ctx.viewport.cssScale, 1e-6);
      if (!count && pts.length >= 3 && dist(q, pts[0]) < near) return finish(ctx);
      if (pts.length && dist(q, pts[pts.length - 1]) < 0.5) return; // double-click's second click
      pts.push(q);
      if (count && pts.length === count) finish(ctx);
    },
    move(ctx, p) {
      ctx.state.hover = clamp(ctx, p);
    },
    dblclick(ctx) {
      if (!count) finish(ctx);
    },
    key(ctx, e) {
      if (e.key === "Enter" && ctx.state.points) {
        finish(ctx);
        return true;
      }
      if (e.key === "Escape" && ctx.state.points) {
        ctx.state.points = null;
        return true;
      }
      return false;
    },
    teardown(ctx) {
      ctx.state.points = null;
    },
    preview(ctx, draw) {
      const pts = ctx.state.points;
      if (pts?.length) {
        const open = ctx.state.hover ? [...pts, ctx.state.hover] : pts;
        draw.shape({ tool: "polyline", geometry: { points: open } }, ctx.label(kind));
      }
    },
  };
  return tool;
}

/** @type {Tool} */
const freehand = {
  name: "freehand", kind: "region",
  down(ctx, p) {
    ctx.state.points = [clamp(ctx, p)];
  },
  move(ctx, p) {
    const pts = ctx.state.points;
    if (!pts) return;
    const q = clamp(ctx, p);
    if (dist(q, pts[pts.length - 1]) * ctx.viewport.cssScale >= 2) pts.push(q); // thin by 2 css px
  },
  up(ctx) {
    const pts = ctx.state.points;
    ctx.state.points = null;
    if (pts && pts.length >= 3) commit(ctx, "freehand", "region", pts);
  },
  preview(ctx, draw) {
    if (ctx.state.points) draw.shape({ tool: "polyline", geometry: { points: ctx.state.points } }, ctx.label("region"));
  },
};

/** @type {Tool[]} */
export const SHAPE_TOOLS = [
  dragTool("rectangle", "region"),
  dragTool("ellipse", "region"),
  clickTool("polygon", "region", 0),
  freehand,
  point,
  dragTool("length", "measurement", 0.5),
  clickTool("angle", "measurement", 3),
];
