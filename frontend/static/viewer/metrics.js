// Read-only figures for tests and support: frames painted (with times), save state, current slice.
// Nothing here carries pixel data or DICOM strings.

import { buildDocument } from "./document.js";
import { CACHE_BYTES } from "./frames.js";

/**
 * @param {{bus: import("./bus.js").Bus, store: import("./annotations.js").AnnotationStore,
 *   saver: import("./save.js").Saver, view: {index:number, plane:string},
 *   sliceCount: () => number, scheduler: import("./frames.js").FrameScheduler,
 *   legend: () => import("./legend.js").LegendItem[]}} options
 */
export function exposeMetrics({ bus, store, saver, view, sliceCount, scheduler, legend }) {
  /**
   * @type {Array<{index:number, plane:string, quality:string, source:string, at:number,
   *   paintMs:number}>} at: when painted; paintMs: the viewport's canvas work for it
   */
  const painted = [];
  bus.on("painted", (p) => {
    // source: "site" (an interactive answer), "prefetch" (read ahead, painted on arrival), "cache"
    painted.push({ index: p.index, plane: p.plane, quality: p.quality, source: p.source, at: p.at,
      paintMs: p.paintMs });
    if (painted.length > 5000) painted.splice(0, 1000);
  });
  /**
   * The frame path, per frame from the site: sent, arrived, decoded and painted (performance.now),
   * the site's render_ms, bytes on the wire, the lane. Painted stays null for frames only cached.
   * @type {Array<{seq:number, lane:string, quality:string, sent:?number, arrived:number,
   *   decoded:number, painted:?number, renderMs:?number, bytes:number, columns:?number,
   *   rows:?number}>} columns × rows: the size the site rendered
   */
  const frames = [];
  /** @type {Map<number, typeof frames[number]>} */
  const bySeq = new Map();
  bus.on("frame", ({ header, timing }) => {
    if (!timing) return;
    const record = {
      seq: header.seq, lane: timing.lane,
      quality: header.quality, sent: timing.sent, arrived: timing.arrived, decoded: timing.decoded,
      painted: null, renderMs: typeof header.render_ms === "number" ? header.render_ms : null,
      bytes: timing.bytes, columns: header.columns ?? null, rows: header.rows ?? null,
    };
    frames.push(record);
    bySeq.set(header.seq, record);
    if (frames.length > 2000) for (const old of frames.splice(0, 500)) bySeq.delete(old.seq);
  });
  bus.on("painted", (p) => {
    const record = p.seq === undefined ? undefined : bySeq.get(p.seq);
    if (record && record.painted === null) record.painted = p.at;
  });
  /** The site's retrieval of the series: updates seen and the last one (counts only). */
  const retrieval = { updates: 0, last: /** @type {?object} */ (null) };
  bus.on("progress", (p) => {
    retrieval.updates += 1;
    retrieval.last = { received: p.received, total: p.total, failed: p.failed ?? 0, done: !!p.done };
  });
  const metrics = Object.freeze({
    painted,
    retrieval,
    framePath: frames,
    get seriesSlices() {
      return sliceCount();
    },
    get slice() {
      return { ...view };
    },
    get annotations() {
      return store.all().map((a) => ({ uid: a.uid, tool: a.tool, label: a.label, frame: a.frame }));
    },
    /** The annotations as a label document would carry them. */
    get document() {
      return buildDocument({ task: 0, schemaVersion: 0, baseRevision: null, annotations: store.all() })
        .annotations;
    },
    /** The decoded-frame cache and the frame lanes: sizes and counts only. */
    get frames() {
      return {
        cacheBytes: scheduler.cacheBytes, cacheFrames: scheduler.cache.size, cacheBudget: CACHE_BYTES,
        prefetchInFlight: scheduler.prefetching.size, unacked: scheduler.unacked(), ...scheduler.stats,
      };
    },
    /** The classification legend drawn on the viewport: labels, levels, colours, swatch centres. */
    get legend() {
      return legend().map((item) => ({ ...item }));
    },
    get saveState() {
      return saver.status.dataset.state ?? "";
    },
    /** Whether the task's labels were loaded from the site (or there were none). */
    get labelsLoaded() {
      return saver.loaded;
    },
  });
  Object.defineProperty(window, "rhinoViewer", { value: metrics, configurable: false });
}
