// What to read ahead: the slices the user is heading for while scrolling (previews, as scrolling
// shows them), the neighbourhood once at rest (lossless). Pure: frames.js asks, sends and cancels.

import { ACK_WINDOW, Quality } from "./protocol.js";

/** @typedef {{center:number, width:number}} Window */
/** @typedef {{index:number, plane:string, quality:string, window:?Window}} Want */

/** Interactive requests in flight (the site renders one and keeps one pending per plane). */
export const MAX_IN_FLIGHT = 2;
/**
 * Prefetch requests in flight. Central forwards at most ACK_WINDOW unacknowledged frames and
 * drops the rest; interactive frames take up to 2 × MAX_IN_FLIGHT of it (in flight, and arrived
 * but not yet painted and acknowledged), so read-ahead gets what is left and never starves them.
 */
export const PREFETCH_IN_FLIGHT = ACK_WINDOW - 2 * MAX_IN_FLIGHT;
/** Slices read ahead while scrolling, and around the shown one at rest. */
export const AHEAD = 12;
export const AROUND = 3;

/**
 * The frames worth having next, nearest first.
 * @param {{want: Want, moving: boolean, direction: number, slices: number, windowMoving: boolean}} state
 * @returns {Want[]}
 */
export function prefetchPlan({ want, moving, direction, slices, windowMoving }) {
  if (slices <= 1 || windowMoving) return []; // a window being dragged changes every frame
  const { index, plane, window } = want;
  const step = direction < 0 ? -1 : 1;
  /** @type {Want[]} */
  const plan = [];
  const add = (/** @type {number} */ i, /** @type {string} */ quality) => {
    if (i >= 0 && i < slices && i !== index) plan.push({ index: i, plane, window, quality });
  };
  if (moving) {
    for (let k = 1; k <= AHEAD; k += 1) add(index + step * k, Quality.PREVIEW);
  } else {
    // Ahead first (the user is likely to go on), then behind; lossless as at rest.
    for (let k = 1; k <= AROUND; k += 1) {
      add(index + step * k, Quality.LOSSLESS);
      add(index - step * k, Quality.LOSSLESS);
    }
  }
  return plan;
}
