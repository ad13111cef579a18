// Classifications on the viewport: the study-, series- and image-level classes that apply to the
// frame on screen, as a legend (the class's colour and meaning) drawn on the overlay canvas, so it
// is part of what the reader sees with the image, follows every edit, undo and slice change.

import { sameFrame } from "./annotations.js";

/** @typedef {import("./annotations.js").Annotation} Annotation */
/** @typedef {import("./annotations.js").FrameRef} FrameRef */
/** @typedef {import("./labels.js").LabelEntry} LabelEntry */
/**
 * @typedef {{uid:string, label:string, level:string, meaning:string, colour:string,
 *   swatch:[number, number]}} LegendItem  swatch: its centre in CSS pixels of the canvas
 */

const LEVELS = ["study", "series", "image"];

/**
 * The classifications that apply to `at`, study first, then series, then image.
 * @param {Annotation[]} all @param {?FrameRef} at @param {(label: string) => boolean} hidden
 * @returns {Annotation[]}
 */
export function classificationsAt(all, at, hidden = () => false) {
  if (!at) return [];
  return all
    .filter((a) => a.tool === "classification" && !hidden(a.label) && (
      a.level === "study" ||
      (a.level === "series" && a.frame?.series === at.series) ||
      (a.level === "image" && sameFrame(a.frame, at))))
    .sort((a, b) => LEVELS.indexOf(a.level ?? "") - LEVELS.indexOf(b.level ?? ""));
}

/**
 * Draw the legend in the top-right corner, under the slice text; returns what was drawn.
 * @param {CanvasRenderingContext2D} ctx @param {number} dpr
 * @param {Annotation[]} items @param {(key: string) => ?LabelEntry} entryOf
 * @returns {LegendItem[]}
 */
export function drawLegend(ctx, dpr, items, entryOf) {
  const size = 12 * dpr;
  const row = 20 * dpr;
  const pad = 6 * dpr;
  const right = ctx.canvas.width - 10 * dpr;
  let y = 30 * dpr;
  ctx.font = `${size}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  /** @type {LegendItem[]} */
  const drawn = [];
  for (const a of items) {
    const entry = entryOf(a.label);
    const meaning = entry?.code_meaning ?? a.label;
    const colour = entry?.colour ?? "#ffffff";
    const text = `${meaning} · ${a.level ?? ""}`;
    const width = ctx.measureText(text).width;
    const left = right - width - size - 3 * pad;
    ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
    ctx.fillRect(left, y, right - left, row - 2 * dpr);
    const sx = left + pad;
    const sy = y + (row - 2 * dpr - size) / 2;
    ctx.fillStyle = colour;
    ctx.fillRect(sx, sy, size, size);
    ctx.fillStyle = "#f0f0f0";
    ctx.fillText(text, sx + size + pad, y + (row - 2 * dpr) / 2);
    drawn.push({
      uid: a.uid, label: a.label, level: a.level ?? "", meaning, colour,
      swatch: [(sx + size / 2) / dpr, (sy + size / 2) / dpr],
    });
    y += row;
  }
  ctx.textBaseline = "alphabetic";
  return drawn;
}
