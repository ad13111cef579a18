// Plain geometry on image coordinates: hit tests and measurements.

/** @typedef {number[]} Pt */

/** @param {Pt} a @param {Pt} b */
export const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** @param {Pt} p @param {Pt} a @param {Pt} b distance from p to segment ab */
export function segmentDistance(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len = dx * dx + dy * dy;
  const t = len ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len)) : 0;
  return dist(p, [a[0] + t * dx, a[1] + t * dy]);
}

/** @param {Pt} p @param {Pt[]} poly */
export function insidePolygon(p, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The outline of an annotation as a polygon (rectangles and ellipses expanded). @param {any} a */
export function outline(a) {
  const pts = a.geometry?.points ?? [];
  if (a.tool === "rectangle" && pts.length === 2) {
    const [[x0, y0], [x1, y1]] = pts;
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
  }
  if (a.tool === "ellipse" && pts.length === 2) {
    const [[x0, y0], [x1, y1]] = pts;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, rx = Math.abs(x1 - x0) / 2, ry = Math.abs(y1 - y0) / 2;
    return Array.from({ length: 48 }, (_, i) => {
      const t = (i / 48) * 2 * Math.PI;
      return [cx + rx * Math.cos(t), cy + ry * Math.sin(t)];
    });
  }
  return pts;
}

/**
 * Distance from p to the annotation (0 inside a closed region).
 * @param {any} a @param {Pt} p
 */
export function hitDistance(a, p) {
  if (a.mask) {
    const x = Math.floor(p[0]), y = Math.floor(p[1]);
    const { rows, columns, data } = a.mask;
    return x >= 0 && y >= 0 && x < columns && y < rows && data[y * columns + x] ? 0 : Infinity;
  }
  const pts = outline(a);
  if (pts.length === 0) return Infinity;
  if (pts.length === 1) return dist(p, pts[0]);
  const closed = ["rectangle", "ellipse", "polygon", "freehand"].includes(a.tool);
  if (closed && insidePolygon(p, pts)) return 0;
  let best = Infinity;
  const n = closed ? pts.length : pts.length - 1;
  for (let i = 0; i < n; i += 1) best = Math.min(best, segmentDistance(p, pts[i], pts[(i + 1) % pts.length]));
  return best;
}

/**
 * Millimetres per pixel along (x, y) of a plane, from series.info; null when unknown.
 * @param {any} series @param {string} plane @returns {?[number, number]}
 */
export function planeSpacing(series, plane) {
  const ps = series?.pixel_spacing; // DICOM order: [row spacing (y), column spacing (x)]
  if (!Array.isArray(ps) || ps.length !== 2) return null;
  const between = series.spacing ?? series.slice_thickness;
  if (plane === "coronal") return between ? [ps[1], between] : null;
  if (plane === "sagittal") return between ? [ps[0], between] : null;
  return [ps[1], ps[0]];
}

/** @param {Pt[]} pts @param {?[number, number]} spacing */
export function lengthOf(pts, spacing) {
  const [a, b] = pts;
  if (!spacing) return { value: dist(a, b), unit: "px" };
  return { value: Math.hypot((b[0] - a[0]) * spacing[0], (b[1] - a[1]) * spacing[1]), unit: "mm" };
}

/** Angle at the middle point, degrees. @param {Pt[]} pts @param {?[number, number]} spacing */
export function angleOf(pts, spacing) {
  const [sx, sy] = spacing ?? [1, 1];
  const [a, v, b] = pts;
  const u = [(a[0] - v[0]) * sx, (a[1] - v[1]) * sy];
  const w = [(b[0] - v[0]) * sx, (b[1] - v[1]) * sy];
  const cos = (u[0] * w[0] + u[1] * w[1]) / (Math.hypot(...u) * Math.hypot(...w) || 1);
  return { value: (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI, unit: "deg" };
}

/** @param {Pt} p @param {number} columns @param {number} rows @returns {Pt} */
export const clampPoint = (p, columns, rows) => [
  Math.round(Math.max(0, Math.min(columns, p[0])) * 100) / 100,
  Math.round(Math.max(0, Math.min(rows, p[1])) * 100) / 100,
];
