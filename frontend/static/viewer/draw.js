// Drawing annotations on the overlay canvas (device pixels), from image coordinates.

import { outline } from "./tools/geometry.js";

/** @typedef {import("./viewport.js").Viewport} Viewport */

const maskCanvases = new WeakMap();

/** @param {string} hex @param {number} alpha */
function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255, Math.round(alpha * 255)];
}

/** A canvas holding the mask in its colour, cached per mask buffer. @param {any} mask @param {string} colour */
function maskCanvas(mask, colour) {
  const cached = maskCanvases.get(mask.data);
  if (cached && cached.colour === colour && cached.version === mask.data.byteLength) return cached.canvas;
  const canvas = new OffscreenCanvas(mask.columns, mask.rows);
  const ctx = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const image = ctx.createImageData(mask.columns, mask.rows);
  const [r, g, b, a] = rgba(colour, 1);
  const px = new Uint32Array(image.data.buffer);
  const value = (a << 24) | (b << 16) | (g << 8) | r; // little-endian RGBA
  for (let i = 0; i < mask.data.length; i += 1) if (mask.data[i]) px[i] = value;
  ctx.putImageData(image, 0, 0);
  maskCanvases.set(mask.data, { canvas, colour, version: mask.data.byteLength });
  return canvas;
}

/** Forget the cached drawing of a mask that was painted into. @param {any} mask */
export const maskChanged = (mask) => maskCanvases.delete(mask.data);

/**
 * @param {CanvasRenderingContext2D} ctx @param {Viewport} view
 * @param {(key: ?string) => string} colourOf
 */
export function painter(ctx, view, colourOf) {
  const t = view.transform();
  const dpr = view.dpr;
  const map = (/** @type {number[]} */ p) => [p[0] * t.scale + t.x, p[1] * t.scale + t.y];
  const path = (/** @type {number[][]} */ pts, /** @type {boolean} */ closed) => {
    ctx.beginPath();
    pts.forEach((p, i) => {
      const [x, y] = map(p);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    if (closed) ctx.closePath();
  };
  return {
    /** @param {any} a @param {?string} label @param {boolean} [selected] */
    shape(a, label, selected = false) {
      const colour = colourOf(label ?? a.label);
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.lineWidth = (selected ? 2.5 : 1.5) * dpr;
      const pts = a.geometry.points;
      if (a.tool === "point") {
        const [x, y] = map(pts[0]);
        ctx.beginPath();
        ctx.arc(x, y, 4 * dpr, 0, 2 * Math.PI);
        ctx.fill();
      } else if (a.tool === "ellipse" && pts.length === 2) {
        const [x0, y0] = map(pts[0]);
        const [x1, y1] = map(pts[1]);
        ctx.beginPath();
        ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2, 0, 0, 2 * Math.PI);
        ctx.stroke();
      } else {
        const closed = ["rectangle", "polygon", "freehand"].includes(a.tool);
        path(outline(a), closed);
        ctx.stroke();
      }
      if (a.measurement) {
        const last = map(pts[pts.length - 1]);
        ctx.font = `${12 * dpr}px system-ui, sans-serif`;
        const unit = a.measurement.unit === "deg" ? "°" : ` ${a.measurement.unit}`;
        ctx.fillText(`${a.measurement.value.toFixed(1)}${unit}`, last[0] + 6 * dpr, last[1] - 6 * dpr);
      }
      if (selected) {
        for (const p of pts) {
          const [x, y] = map(p);
          ctx.fillRect(x - 3 * dpr, y - 3 * dpr, 6 * dpr, 6 * dpr);
        }
      }
    },
    /** @param {any} a @param {number} alpha @param {boolean} [live] being painted into */
    mask(a, alpha, live = false) {
      if (live) maskChanged(a.mask);
      const canvas = maskCanvas(a.mask, colourOf(a.label));
      ctx.globalAlpha = alpha;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(canvas, t.x, t.y, a.mask.columns * t.scale, a.mask.rows * t.scale);
      ctx.globalAlpha = 1;
    },
    /** @param {number[]} p @param {number} radius image pixels */
    circle(p, radius) {
      const [x, y] = map(p);
      ctx.strokeStyle = "rgba(255,255,255,0.7)";
      ctx.lineWidth = dpr;
      ctx.beginPath();
      ctx.arc(x, y, radius * t.scale, 0, 2 * Math.PI);
      ctx.stroke();
    },
  };
}
