// A tiny event bus on EventTarget. Event names are a frozen list: a typo throws, not a silent no-op.

export const EVENTS = Object.freeze([
  "connection", // {state: "connecting"|"ready"|"reconnecting"|"closed", code?, reason?}
  "series", // series.info message
  "progress", // retrieve.progress message
  "frame", // {header, bitmap, timing: {sent, lane, arrived, decoded, bytes}} decoded frame
  "painted", // {index, plane, quality, seq, source, at, paintMs}
  "slice", // {index, plane}
  "window", // {center, width}
  "view", // {zoom, panX, panY, invert}
  "tool", // {name}
  "label", // {key}
  "annotations", // {reason}
  "selection", // {uid | null}
  "history", // {canUndo, canRedo}
  "save", // {state, text, revision?}
  "message", // any relayed text message from the site
  "error", // {code, message, seq?}
]);

const known = new Set(EVENTS);

/** @typedef {{on:(name:string, fn:(detail:any)=>void)=>()=>void, emit:(name:string, detail?:any)=>void}} Bus */

/** @returns {Bus} */
export function createBus() {
  const target = new EventTarget();
  const check = (/** @type {string} */ name) => {
    if (!known.has(name)) throw new Error(`unknown bus event ${name}`);
  };
  return {
    on(name, fn) {
      check(name);
      const listener = (/** @type {Event} */ event) => fn(/** @type {CustomEvent} */ (event).detail);
      target.addEventListener(name, listener);
      return () => target.removeEventListener(name, listener);
    },
    emit(name, detail = {}) {
      check(name);
      target.dispatchEvent(new CustomEvent(name, { detail }));
    },
  };
}
