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
  /** @type {Array<{index:number, plane:string, quality:string, source:string, at:number}>} */
  const painted = [];
  bus.on("painted", (p) => {
    // source: "site" (an interactive answer), "prefetch" (read ahead, painted on arrival), "cache"
    painted.push({ index: p.index, plane: p.plane, quality: p.quality, source: p.source, at: p.at });
    if (painted.length > 5000) painted.splice(0, 1000);
  });
  const metrics = Object.freeze({
    painted,
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
  });
  Object.defineProperty(window, "rhinoViewer", { value: metrics, configurable: false });
}
