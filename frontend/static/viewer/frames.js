// Frame scheduling: newest request wins, at most two in flight (the site renders one and keeps one
// pending per plane), stale answers dropped by seq, every frame acknowledged once painted or dropped,
// a preview JPEG while moving and the lossless PNG once the user rests.

import { ErrorCode, MessageType, Plane, Quality } from "./protocol.js";

/** @typedef {import("./bus.js").Bus} Bus */
/** @typedef {{center:number, width:number}} Window */
/** @typedef {{index:number, plane:string, quality:string, window:?Window}} Want */

const MAX_IN_FLIGHT = 2;
const REST_MS = 160;
const CACHE_SIZE = 48;
/** Errors worth asking again for (the PACS or the link may recover). */
const TRANSIENT = [ErrorCode.PACS_TIMEOUT, ErrorCode.PACS_UNAVAILABLE, ErrorCode.SITE_OFFLINE, ErrorCode.INTERNAL];

/** @param {string} plane @param {number} index @param {?Window} window @param {string} quality */
const keyOf = (plane, index, window, quality) =>
  `${plane}|${index}|${window ? `${window.center}/${window.width}` : "default"}|${quality}`;

export class FrameScheduler {
  /**
   * @param {{bus: Bus, connection: {send:(m:object)=>number, ack:(seq:number)=>void, ready:boolean},
   *   paint: (bitmap: ImageBitmap, header: any, done: () => void) => void,
   *   failed?: (error: {code: string, message: string}) => void}} options
   */
  constructor({ bus, connection, paint, failed }) {
    this.failed = failed;
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
    bus.on("frame", ({ header, bitmap }) => this.arrived(header, bitmap));
    this.failures = 0;
    /** @type {number|undefined} */
    this.retryTimer = undefined;
    bus.on("error", (error) => {
      if (error.seq === undefined || !this.inFlight.delete(error.seq)) return; // not a frame's
      if (error.code !== ErrorCode.CANCELLED) {
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
    this.want = { ...this.want, ...change, quality: moving ? Quality.PREVIEW : Quality.LOSSLESS };
    clearTimeout(this.restTimer);
    if (moving) this.restTimer = window.setTimeout(() => this.rest(), REST_MS);
    this.fetchWanted();
  }

  /** The user stopped moving: the lossless frame of what is shown. */
  rest() {
    if (this.want.quality === Quality.LOSSLESS) return;
    this.want = { ...this.want, quality: Quality.LOSSLESS };
    this.fetchWanted();
  }

  fetchWanted() {
    const { plane, index, window, quality } = this.want;
    const lossless = this.cache.get(keyOf(plane, index, window, Quality.LOSSLESS));
    const hit = lossless ?? this.cache.get(keyOf(plane, index, window, quality));
    if (hit) {
      const key = keyOf(plane, index, window, lossless ? Quality.LOSSLESS : quality);
      this.touch(key, hit);
      // Answers to earlier requests are older than what is now on screen.
      this.newestPaintedSeq = this.lastSentSeq;
      this.show(hit, { index, plane, window, quality: lossless ? Quality.LOSSLESS : quality }, key);
      if (lossless || quality === Quality.PREVIEW) return;
    }
    for (const key of this.inFlight.values()) {
      if (key === keyOf(plane, index, window, quality)) return; // already on its way
    }
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.queued = { ...this.want };
      return;
    }
    this.send(this.want);
  }

  /** @param {Want} want */
  send(want) {
    if (!this.series || !this.connection.ready) {
      this.queued = { ...want };
      return;
    }
    const seq = this.connection.send({
      type: MessageType.FRAME_REQUEST, series: this.series, index: want.index, plane: want.plane,
      quality: want.quality, window: want.window, size: null,
    });
    this.inFlight.set(seq, keyOf(want.plane, want.index, want.window, want.quality));
    this.lastSentSeq = seq;
  }

  pump() {
    if (this.queued && this.inFlight.size < MAX_IN_FLIGHT) {
      const next = this.queued;
      this.queued = null;
      const { plane, index, window } = this.want;
      // Only what is still wanted is worth asking for.
      if (next.plane === plane && next.index === index && next.window === window) this.send(next);
      else this.fetchWanted();
    }
  }

  /** The link came (back): ask again for what is shown. */
  resume() {
    this.inFlight.clear();
    this.queued = null;
    this.fetchWanted();
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
    const key = this.inFlight.get(seq) ??
      keyOf(header.plane ?? Plane.AXIAL, header.index, null, header.quality ?? Quality.LOSSLESS);
    this.inFlight.delete(seq);
    this.touch(key, bitmap);
    const { plane, index } = this.want;
    const current = header.index === index && (header.plane ?? Plane.AXIAL) === plane;
    const stale = seq < this.newestPaintedSeq;
    // A lossless frame never gives way to a preview of the same slice.
    const downgrade = current && this.paintedKey.endsWith("lossless") &&
      header.quality === Quality.PREVIEW && this.paintedKey.startsWith(`${plane}|${index}|`) &&
      key.split("|")[2] === this.paintedKey.split("|")[2];
    // While scrolling, a newer frame of a slice on the way is still progress: paint it.
    if (stale || downgrade || (header.plane ?? Plane.AXIAL) !== plane) {
      this.connection.ack(seq);
    } else {
      this.newestPaintedSeq = seq;
      this.show(bitmap, header, key, seq);
    }
    this.pump();
  }

  /** @param {ImageBitmap} bitmap @param {any} header @param {string} key @param {number} [seq] */
  show(bitmap, header, key, seq) {
    this.paintedKey = key;
    this.paint(bitmap, header, () => {
      if (seq !== undefined) this.connection.ack(seq);
    });
  }

  /** @param {string} key @param {ImageBitmap} bitmap */
  touch(key, bitmap) {
    this.cache.delete(key);
    this.cache.set(key, bitmap);
    while (this.cache.size > CACHE_SIZE) {
      const entry = this.cache.entries().next().value;
      if (!entry) break;
      const [oldest, old] = entry;
      this.cache.delete(oldest);
      if (old !== bitmap && oldest !== this.paintedKey) old.close();
    }
  }
}
