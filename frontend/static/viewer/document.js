// Label documents (docs/protocol.md, "Label documents"): what label.save sends and label.document
// returns. Masks travel run-length encoded; everything else is plain data in image coordinates.

import { rleDecode, rleEncode } from "./rle.js";

export const DOCUMENT_VERSION = 1;

/**
 * @param {{task:number, schemaVersion:number, baseRevision:?number,
 *   annotations: import("./annotations.js").Annotation[]}} input
 */
export function buildDocument({ task, schemaVersion, baseRevision, annotations }) {
  return {
    version: DOCUMENT_VERSION,
    task,
    schema_version: schemaVersion,
    base_revision: baseRevision,
    annotations: annotations.map((a) => {
      /** @type {Record<string, any>} */
      const out = { uid: a.uid, tool: a.tool, label: a.label, frame: a.frame };
      if (a.level) out.level = a.level;
      out.geometry = { points: a.geometry?.points ?? [] };
      if (a.measurement) out.measurement = a.measurement;
      if (a.mask) out.mask = { rows: a.mask.rows, columns: a.mask.columns, rle: rleEncode(a.mask.data) };
      return out;
    }),
  };
}

/** @param {any} doc @returns {import("./annotations.js").Annotation[]} */
export function parseDocument(doc) {
  const list = Array.isArray(doc?.annotations) ? doc.annotations : [];
  return list
    .filter((/** @type {any} */ a) => typeof a?.uid === "string" && typeof a?.tool === "string")
    .map((/** @type {any} */ a) => {
      /** @type {import("./annotations.js").Annotation} */
      const out = {
        uid: a.uid, tool: a.tool, label: String(a.label ?? ""), frame: a.frame ?? null,
        geometry: { points: Array.isArray(a.geometry?.points) ? a.geometry.points : [] },
      };
      if (a.level) out.level = a.level;
      if (a.measurement) out.measurement = a.measurement;
      if (a.mask && Array.isArray(a.mask.rle)) {
        const { rows, columns } = a.mask;
        out.mask = { rows, columns, data: rleDecode(a.mask.rle, rows * columns) };
      }
      return out;
    });
}
