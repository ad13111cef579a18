// The annotation store: plain data `{uid, tool, label, frame, level?, geometry, mask?}` keyed by uid.
// Geometry is in image pixel coordinates of the frame it belongs to; views never change it.

/** @typedef {import("./bus.js").Bus} Bus */
/** @typedef {import("./undo.js").History} History */
/**
 * @typedef {{series:string, index:number, plane?:string, instance?:string}} FrameRef
 * @typedef {{rows:number, columns:number, data:Uint8Array}} Mask
 * @typedef {{uid:string, tool:string, label:string, frame:?FrameRef, level?:string,
 *   geometry:{points:number[][]}, mask?:Mask, measurement?:{value:number, unit:string}}} Annotation
 */

/** @returns {string} a fresh uid (UUID v4) */
export const newUid = () => crypto.randomUUID();

/** @param {?FrameRef} a @param {?FrameRef} b */
export const sameFrame = (a, b) =>
  !!a && !!b && a.series === b.series && a.index === b.index &&
  (a.plane ?? "axial") === (b.plane ?? "axial");

/** @param {Annotation} a @returns {Annotation} a deep copy (masks copied too) */
export function clone(a) {
  /** @type {Annotation} */
  const copy = structuredClone({ ...a, mask: undefined });
  if (a.mask) copy.mask = { rows: a.mask.rows, columns: a.mask.columns, data: a.mask.data.slice() };
  else delete copy.mask;
  return copy;
}

export class AnnotationStore {
  /** @param {{bus: Bus, history: History}} options */
  constructor({ bus, history }) {
    this.bus = bus;
    this.history = history;
    /** @type {Map<string, Annotation>} */
    this.items = new Map();
    /** @type {Set<string>} label keys hidden from view */
    this.hidden = new Set();
    this.version = 0; // bumped on every change; save.js compares it with the saved one
  }

  /** @returns {Annotation[]} */
  all() {
    return [...this.items.values()];
  }

  /** @param {string} uid */
  get(uid) {
    return this.items.get(uid);
  }

  /** @param {FrameRef} frame @returns {Annotation[]} visible annotations drawn on this frame */
  onFrame(frame) {
    return this.all().filter((a) => sameFrame(a.frame, frame) && !this.hidden.has(a.label));
  }

  /**
   * Apply one edit (several annotations at once) and record it for undo.
   * @param {string} name
   * @param {Array<{before: ?Annotation, after: ?Annotation}>} changes
   */
  edit(name, changes) {
    const forward = changes.map(({ before, after }) => ({
      uid: (after ?? before)?.uid ?? "",
      before: before ? clone(before) : null,
      after: after ? clone(after) : null,
    }));
    const set = (/** @type {"before"|"after"} */ side) => {
      for (const change of forward) {
        const value = change[side];
        if (value) this.items.set(change.uid, clone(value));
        else this.items.delete(change.uid);
      }
      this.touched(name);
    };
    set("after");
    this.history.push({ name, undo: () => set("before"), redo: () => set("after") });
  }

  /** @param {Annotation} annotation */
  add(annotation) {
    this.edit(`add ${annotation.tool}`, [{ before: null, after: annotation }]);
  }

  /** @param {Annotation} annotation the new state of an existing annotation */
  update(annotation) {
    const before = this.items.get(annotation.uid) ?? null;
    this.edit(`edit ${annotation.tool}`, [{ before, after: annotation }]);
  }

  /** @param {string} uid */
  remove(uid) {
    const before = this.items.get(uid);
    if (before) this.edit(`delete ${before.tool}`, [{ before, after: null }]);
  }

  /** Replace everything (labels loaded from the site); not undoable. @param {Annotation[]} list */
  load(list) {
    this.items = new Map(list.map((a) => [a.uid, a]));
    this.history.clear();
    this.touched("load");
  }

  /** @param {string} key @param {boolean} hide */
  setHidden(key, hide) {
    if (hide) this.hidden.add(key);
    else this.hidden.delete(key);
    this.bus.emit("annotations", { reason: "visibility" });
  }

  /** @param {string} reason */
  touched(reason) {
    this.version += 1;
    this.bus.emit("annotations", { reason });
  }
}
