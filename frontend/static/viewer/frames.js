// Frame scheduling: newest request wins, at most two in flight (the site renders one and keeps one
// pending per plane), stale answers dropped by seq, every frame acknowledged once painted or dropped,
// a preview JPEG (no larger than the viewport) while moving and the lossless PNG once the user rests.
// Read-ahead rides a second lane (`priority: "prefetch"`, served by the site only while no
// interactive request waits): the slices ahead of the scroll, the neighbourhood at rest, decoded
// into a cache bounded in bytes. Every frame counts against central's acknowledgement window
// until acknowledged, and read-ahead only uses what interactive frames cannot (prefetch.js).

import { ACK_WINDOW, ErrorCode, MessageType, Plane, Priority, Quality } from "./protocol.js";
import { MAX_IN_FLIGHT, PREFETCH_IN_FLIGHT, prefetchPlan } from "./prefetch.js";

/** @typedef {import("./bus.js").Bus} Bus */
/** @typedef {import("./prefetch.js").Window} Window */
/** @typedef {import("./prefetch.js").Want} Want */

const REST_MS = 160;
/** Decoded frames kept (RGBA bytes): 96 frames of 512 × 512. */
export const CACHE_BYTES = 96 * 1024 * 1024;
/** Errors worth asking again for (the PACS or the link may recover). */
const TRANSIENT = [ErrorCode.PACS_TIMEOUT, ErrorCode.PACS_UNAVAILABLE, ErrorCode.SITE_OFFLINE, ErrorCode.INTERNAL];

/** @param {string} plane @param {number} index @param {?Window} window @param {string} quality */
const keyOf = (plane, index, window, quality) =>
  `${plane}|${index}|${window ? `${window.center}/${window.width}` : "default"}|${quality}`;

/** Decoded RGBA bytes of a bitmap (0 once closed). @param {ImageBitmap} bitmap */
const bytesOf = (bitmap) => bitmap.width * bitmap.height * 4;

export class FrameScheduler {
  /**
   * @param {{bus: Bus, connection: {send:(m:object)=>number, ack:(seq:number)=>void, ready:boolean},
   *   paint: (bitmap: ImageBitmap, header: any, done: () => void) => void,
   *   failed?: (error: {code: string, message: string}) => void, slices?: () => number,
   *   previewSize?: (plane: string) => ?[number, number]}} options
   */
  constructor({ bus, connection, paint, failed, slices = () => 1, previewSize = () => null }) {
    this.failed = failed;
    this.previewSize = previewSize;
    this.slices = slices;
    /** @type {Map<number, string>} prefetch seq → cache key */
    this.prefetching = new Map();
    /** @type {Set<number>} prefetch seqs asked to be cancelled (still counted until answered) */
    this.cancelling = new Set();
    /** @type {Set<number>} interactive frames arrived, acknowledged once painted */
    this.awaitingAck = new Set();
    this.direction = 1;
    this.windowMoving = false;
    this.cacheBytes = 0;
    this.prefetchEnabled = true;
    this.stats = { fromSite: 0, prefetched: 0, prefetchUsed: 0, cancelled: 0, cacheHits: 0 };
    this.bus = bus;
    this.connection = connection;
    this.paint = paint;
    /** @type {string} */
    this.series = "";
    /** @type {Want} */
    this.want = { index: 0, plane: Plane.AXIAL, quality: Quality.LOSSLESS, window: null };
    /** @type {Map<number, string>} seq → cache key */
    this.inFlight = new Map();
    /** @type {?Want} a request waiting for a free slot */
    this.queued = null;
    this.newestPaintedSeq = 0;
    this.lastSentSeq = 0;
    /** @type {Map<string, ImageBitmap>} LRU of decoded frames */
    this.cache = new Map();
    /** @type {number|undefined} */
    this.restTimer = undefined;
    this.paintedKey = "";
    /** @type {?string} the preview whose landing asks for the lossless frame (settle) */
    this.settleOn = null;
    bus.on("frame", ({ header, bitmap }) => this.arrived(header, bitmap));
    this.failures = 0;
    /** @type {number|undefined} */
    this.retryTimer = undefined;
    bus.on("error", (error) => {
      if (error.seq !== undefined && this.prefetching.delete(error.seq)) {
        this.cancelling.delete(error.seq);
        if (error.code === ErrorCode.CANCELLED) this.stats.cancelled += 1;
        this.pump(); // read-ahead that failed is not retried: it is asked for when shown
        return;
      }
      const key = error.seq === undefined ? undefined : this.inFlight.get(error.seq);
      if (key === undefined || !this.inFlight.delete(error.seq)) return; // not a frame's
      this.landed(key);
      if (error.code === ErrorCode.CANCELLED) {
        // Superseded at the site (a newer request is on its way), or dropped by central while
        // its window was full: then it is still what is wanted, and asked for again shortly
        // (a pause, so that central's window can drain first).
        const { plane, index, window, quality } = this.want;
        const wanted = keyOf(plane, index, window, quality);
        if (key === wanted && ![...this.inFlight.values()].includes(key)) this.retryLater(100);
      } else {
        this.failures += 1;
        if (TRANSIENT.includes(error.code) && this.failures < 6) this.retryLater(250 * 2 ** this.failures);
        else this.failed?.(error);
      }
      this.pump();
    });
  }

  /** @param {string} series */
  setSeries(series) {
    this.series = series;
  }

  /**
   * Ask for a frame. `moving` means the user is scrolling or dragging: preview now, lossless at rest.
   * @param {Partial<Want>} change
   * @param {{moving?: boolean}} [options]
   */
  request(change, { moving = false } = {}) {
    if (change.index !== undefined && change.index !== this.want.index && change.plane === this.want.plane) {
      this.direction = change.index > this.want.index ? 1 : -1;
    }
    this.windowMoving = moving && change.window !== undefined;
    this.settleOn = null;
    this.want = { ...this.want, ...change, quality: moving ? Quality.PREVIEW : Quality.LOSSLESS };
    clearTimeout(this.restTimer);
    if (moving) this.restTimer = window.setTimeout(() => this.rest(), REST_MS);
    this.fetchWanted();
  }

  /**
   * The user let go (a key released): the lossless frame — once the preview already on its way
   * has landed. Asked for at once, it would supersede that preview at the site (newest wins)
   * and the first paint would wait for the slower PNG; the rest timer still bounds the wait.
   */
  settle() {
    const { plane, index, window } = this.want;
    const preview = keyOf(plane, index, window, Quality.PREVIEW);
    if (this.want.quality === Quality.PREVIEW && [...this.inFlight.values()].includes(preview)) {
      this.settleOn = preview;
      return;
    }
    this.rest();
  }

  /** @param {string} key a frame of the interactive lane landed (or failed) */
  landed(key) {
    if (this.settleOn !== null && key === this.settleOn) this.rest();
  }

  /** The user stopped moving: the lossless frame of what is shown. */
  rest() {
    this.settleOn = null;
    if (this.want.quality === Quality.LOSSLESS) return;
    this.windowMoving = false;
    this.want = { ...this.want, quality: Quality.LOSSLESS };
    this.fetchWanted();
  }

  fetchWanted() {
    this.fetchOne();
    this.prefetch();
  }

  fetchOne() {
    const { plane, index, window, quality } = this.want;
    const lossless = this.cache.get(keyOf(plane, index, window, Quality.LOSSLESS));
    const hit = lossless ?? this.cache.get(keyOf(plane, index, window, quality));
    if (hit) {
      const key = keyOf(plane, index, window, lossless ? Quality.LOSSLESS : quality);
      this.touch(key, hit);
      this.stats.cacheHits += 1;
      // Answers to earlier requests are older than what is now on screen.
      this.newestPaintedSeq = this.lastSentSeq;
      this.show(hit, { index, plane, window, quality: lossless ? Quality.LOSSLESS : quality, source: "cache" }, key);
      if (lossless || quality === Quality.PREVIEW) return;
    }
    const wanted = keyOf(plane, index, window, quality);
    for (const key of this.inFlight.values()) if (key === wanted) return; // already on its way
    for (const [seq, key] of this.prefetching) {
      // Read ahead and on its way (the site serves that lane in order, a few frames deep).
      if (key === wanted && !this.cancelling.has(seq)) return;
    }
    if (this.inFlight.size >= MAX_IN_FLIGHT || this.unacked() >= ACK_WINDOW) {
      this.queued = { ...this.want };
      return;
    }
    this.send(this.want);
  }

  /**
   * Previews no larger than the viewport (fewer bytes to render, send and decode); lossless
   * frames always at their own size.
   * @param {Want} want @returns {?[number, number]}
   */
  sizeFor(want) {
    return want.quality === Quality.PREVIEW ? this.previewSize(want.plane) : null;
  }

  /** Frames central counts against the window: sent and not yet acknowledged. */
  unacked() {
    return this.inFlight.size + this.prefetching.size + this.awaitingAck.size;
  }

  /** @param {Want} want */
  send(want) {
    if (!this.series || !this.connection.ready) {
      this.queued = { ...want };
      return;
    }
    const seq = this.connection.send({
      type: MessageType.FRAME_REQUEST, series: this.series, index: want.index, plane: want.plane,
      quality: want.quality, window: want.window, size: this.sizeFor(want),
    });
    this.inFlight.set(seq, keyOf(want.plane, want.index, want.window, want.quality));
    this.lastSentSeq = seq;
  }

  /** Ask for what the user is heading for; take back read-ahead that is no longer wanted. */
  prefetch() {
    if (!this.series || !this.connection.ready || !this.prefetchEnabled) return;
    const plan = prefetchPlan({
      want: this.want, moving: this.want.quality === Quality.PREVIEW, direction: this.direction,
      slices: this.slices(), windowMoving: this.windowMoving,
    });
    const keys = plan.map((w) => keyOf(w.plane, w.index, w.window, w.quality));
    const current = keyOf(this.want.plane, this.want.index, this.want.window, this.want.quality);
    for (const [seq, key] of this.prefetching) {
      if (key !== current && !keys.includes(key) && !this.cancelling.has(seq)) {
        this.cancelling.add(seq);
        this.connection.send({ type: MessageType.FRAME_CANCEL, seq });
      }
    }
    const sent = new Set([...this.prefetching.values(), ...this.inFlight.values()]);
    for (let i = 0; i < plan.length; i += 1) {
      if (this.prefetching.size >= PREFETCH_IN_FLIGHT) return;
      if (this.unacked() + MAX_IN_FLIGHT >= ACK_WINDOW) return; // room left for the user
      const w = plan[i];
      const key = keys[i];
      const have = this.cache.has(key) || this.cache.has(keyOf(w.plane, w.index, w.window, Quality.LOSSLESS));
      if (have || sent.has(key)) continue;
      const seq = this.connection.send({
        type: MessageType.FRAME_REQUEST, series: this.series, index: w.index, plane: w.plane,
        quality: w.quality, window: w.window, size: this.sizeFor(w), priority: Priority.PREFETCH,
      });
      this.prefetching.set(seq, key);
    }
  }

  pump() {
    if (this.queued && this.inFlight.size < MAX_IN_FLIGHT && this.unacked() < ACK_WINDOW) {
      const next = this.queued;
      this.queued = null;
      const { plane, index, window } = this.want;
      // Only what is still wanted is worth asking for.
      if (next.plane === plane && next.index === index && next.window === window) this.send(next);
      else this.fetchOne();
    }
    this.prefetch();
  }

  /** The link came (back): ask again for what is shown. */
  resume() {
    this.inFlight.clear();
    this.prefetching.clear();
    this.cancelling.clear();
    this.awaitingAck.clear();
    this.queued = null;
    this.fetchWanted();
  }

  /** @param {number} seq an interactive frame painted (or given up on) */
  acked(seq) {
    this.awaitingAck.delete(seq);
    this.connection.ack(seq);
    this.pump();
  }

  /** @param {number} ms */
  retryLater(ms) {
    clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.fetchWanted(), ms);
  }

  /** @param {any} header @param {ImageBitmap} bitmap */
  arrived(header, bitmap) {
    const seq = header.seq;
    this.failures = 0;
    const ahead = this.prefetching.get(seq);
    if (ahead !== undefined) {
      this.prefetching.delete(seq);
      this.cancelling.delete(seq);
      this.connection.ack(seq); // decoded and kept: its place in the window is free again
      this.stats.prefetched += 1;
      this.touch(ahead, bitmap);
      const { plane, index, window } = this.want;
      const lossless = this.paintedKey === keyOf(plane, index, window, Quality.LOSSLESS);
      const wanted = ahead === keyOf(plane, index, window, Quality.PREVIEW) ||
        ahead === keyOf(plane, index, window, Quality.LOSSLESS);
      if (wanted && !lossless) {
        // What the user moved to, read ahead: paint it (answers to older requests are older).
        this.stats.prefetchUsed += 1;
        this.newestPaintedSeq = Math.max(this.newestPaintedSeq, this.lastSentSeq);
        this.show(bitmap, { ...header, source: "prefetch" }, ahead);
      }
      this.pump();
      return;
    }
    this.stats.fromSite += 1;
    const key = this.inFlight.get(seq) ??
      keyOf(header.plane ?? Plane.AXIAL, header.index, null, header.quality ?? Quality.LOSSLESS);
    this.inFlight.delete(seq);
    this.touch(key, bitmap);
    const { plane, index } = this.want;
    const current = header.index === index && (header.plane ?? Plane.AXIAL) === plane;
    const stale = seq < this.newestPaintedSeq;
    const sameWindow = key.split("|")[2] === keyOf(plane, index, this.want.window, "").split("|")[2];
    // A lossless frame never gives way to a preview of the same slice.
    const downgrade = current && this.paintedKey.endsWith("lossless") &&
      header.quality === Quality.PREVIEW && this.paintedKey.startsWith(`${plane}|${index}|`) &&
      key.split("|")[2] === this.paintedKey.split("|")[2];
    // While scrolling, a newer frame of a slice on the way is still progress: paint it.
    // The slice the user is on is painted even if older requests' answers are behind it.
    if ((stale && !(current && sameWindow)) || downgrade || (header.plane ?? Plane.AXIAL) !== plane) {
      this.connection.ack(seq);
    } else {
      this.newestPaintedSeq = Math.max(this.newestPaintedSeq, seq);
      this.awaitingAck.add(seq);
      this.show(bitmap, { ...header, source: "site" }, key, seq);
    }
    this.landed(key);
    this.pump();
  }

  /** @param {ImageBitmap} bitmap @param {any} header @param {string} key @param {number} [seq] */
  show(bitmap, header, key, seq) {
    this.paintedKey = key;
    this.paint(bitmap, header, () => {
      if (seq !== undefined) this.acked(seq);
    });
  }

  /** @param {string} key @param {ImageBitmap} bitmap */
  touch(key, bitmap) {
    const previous = this.cache.get(key);
    if (previous) {
      this.cache.delete(key);
      this.cacheBytes -= bytesOf(previous);
      if (previous !== bitmap && key !== this.paintedKey) previous.close();
    }
    this.cache.set(key, bitmap);
    this.cacheBytes += bytesOf(bitmap);
    // Evict the least recently used; the frame on screen stays (the viewport still draws it).
    for (const [oldest, old] of this.cache) {
      if (this.cacheBytes <= CACHE_BYTES || this.cache.size <= 1) break;
      if (oldest === this.paintedKey || old === bitmap) continue;
      this.cache.delete(oldest);
      this.cacheBytes -= bytesOf(old);
      old.close();
    }
  }
}
