// Moving a brush mask: its bounding box, and the mask shifted by whole pixels (a mask is a pixel
// grid: it moves in steps of one pixel, and never off the image — the shift is clamped so that
// every set pixel stays on it).

/**
 * The set pixels' bounding box (inclusive), or null for an empty mask.
 * @param {{rows:number, columns:number, data:Uint8Array}} mask
 * @returns {?{x0:number, y0:number, x1:number, y1:number}}
 */
export function maskBounds({ rows, columns, data }) {
  let x0 = columns, y0 = rows, x1 = -1, y1 = -1;
  for (let y = 0; y < rows; y += 1) {
    const row = data.subarray(y * columns, (y + 1) * columns);
    const first = row.indexOf(1);
    if (first < 0) continue;
    if (y0 > y) y0 = y;
    y1 = y;
    if (first < x0) x0 = first;
    const last = row.lastIndexOf(1);
    if (last > x1) x1 = last;
  }
  return x1 < 0 ? null : { x0, y0, x1, y1 };
}

/**
 * The shift (dx, dy) limited so the box stays on a rows × columns image.
 * @param {{x0:number, y0:number, x1:number, y1:number}} box @param {number} columns
 * @param {number} rows @param {number} dx @param {number} dy @returns {[number, number]}
 */
export function clampShift(box, columns, rows, dx, dy) {
  const x = Math.max(-box.x0, Math.min(columns - 1 - box.x1, Math.round(dx)));
  const y = Math.max(-box.y0, Math.min(rows - 1 - box.y1, Math.round(dy)));
  return [x, y];
}

/**
 * Write `source` shifted by (dx, dy) whole pixels into `target` (same size); row copies only.
 * @param {Uint8Array} source @param {Uint8Array} target @param {number} columns
 * @param {number} rows @param {number} dx @param {number} dy
 */
export function shiftMask(source, target, columns, rows, dx, dy) {
  target.fill(0);
  const width = columns - Math.abs(dx);
  if (width <= 0 || Math.abs(dy) >= rows) return;
  const fromX = Math.max(0, -dx);
  const toX = Math.max(0, dx);
  for (let y = Math.max(0, -dy); y < Math.min(rows, rows - dy); y += 1) {
    const from = y * columns + fromX;
    target.set(source.subarray(from, from + width), (y + dy) * columns + toX);
  }
}
