// The Secure Access session: open it over REST, hold the socket, renew before expiry, reconnect.
// Text messages go to the bus; binary frames are decoded off the main thread (createImageBitmap).

import { apiCall } from "./api.js";
import { FINAL_CLOSES, MessageType, unpackFrame } from "./protocol.js";

/** @typedef {import("./bus.js").Bus} Bus */

const RENEW_MARGIN_MS = 5 * 60 * 1000;

export class Connection {
  /** @param {{bus: Bus, sessionsUrl: string}} options */
  constructor({ bus, sessionsUrl }) {
    this.bus = bus;
    this.sessionsUrl = sessionsUrl;
    /** @type {?WebSocket} */
    this.socket = null;
    /** @type {?{id:string, websocket:string, series:string[], actions:string[], expires_at:string}} */
    this.session = null;
    this.seq = 0;
    this.ready = false;
    this.closedForGood = false;
    this.attempts = 0;
    /** @type {number|undefined} */
    this.renewTimer = undefined;
    /** @type {Map<number, {at:number, lane:string}>} frame request seq → sent when (performance.now), lane */
    this.sentAt = new Map();
  }

  /** Open a session for the task and connect. */
  async open() {
    this.session = await apiCall(this.sessionsUrl, { method: "POST" });
    this.scheduleRenew();
    this.connect();
    return this.session;
  }

  connect() {
    if (!this.session) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${this.session.websocket}`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.ready = false;
    this.bus.emit("connection", { state: "connecting" });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => this.closed(event.code, event.reason));
  }

  /** @param {string|ArrayBuffer} data */
  receive(data) {
    if (typeof data !== "string") {
      this.decodeFrame(data);
      return;
    }
    const message = JSON.parse(data);
    if (message.type === MessageType.SESSION_STATE) {
      this.ready = message.state === "ready";
      if (this.ready) this.attempts = 0;
      this.bus.emit("connection", { state: message.state });
    } else if (message.type === MessageType.SERIES_INFO) {
      this.bus.emit("series", message);
    } else if (message.type === MessageType.RETRIEVE_PROGRESS) {
      this.bus.emit("progress", message);
    } else if (message.type === MessageType.ERROR) {
      this.bus.emit("error", message);
    }
    this.bus.emit("message", message);
  }

  /** @param {ArrayBuffer} buffer */
  async decodeFrame(buffer) {
    const arrived = performance.now();
    let parsed;
    try {
      parsed = unpackFrame(buffer);
    } catch (error) {
      this.bus.emit("error", { code: "bad_message", message: String(error) });
      return;
    }
    const { header, image } = parsed;
    const type = header.format === "png" ? "image/png" : "image/jpeg";
    try {
      const bitmap = await createImageBitmap(new Blob([/** @type {BlobPart} */ (image)], { type }));
      const request = this.sentAt.get(header.seq);
      this.sentAt.delete(header.seq);
      // Where the time went (metrics.js): sent → arrived is the site and the relay, arrived →
      // decoded is createImageBitmap (off the main thread), the header's render_ms the site's share.
      const timing = {
        sent: request?.at ?? null, lane: request?.lane ?? "interactive", arrived,
        decoded: performance.now(), bytes: buffer.byteLength,
      };
      this.bus.emit("frame", { header, bitmap, timing });
    } catch {
      this.ack(header.seq); // undecodable: free its slot in the window all the same
      this.bus.emit("error", { code: "image_error", message: "frame not decodable", seq: header.seq });
    }
  }

  /**
   * Send a message; a `seq` is assigned when the message has none.
   * @param {Record<string, any>} message
   * @returns {number} the seq sent
   */
  send(message) {
    const seq = message.seq ?? ++this.seq;
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ ...message, seq }));
      if (message.type === MessageType.FRAME_REQUEST) {
        this.sentAt.set(seq, { at: performance.now(), lane: message.priority ?? "interactive" });
        // Requests answered with an error leave their entry: keep the oldest few hundred at most.
        if (this.sentAt.size > 256) this.sentAt.delete(this.sentAt.keys().next().value ?? 0);
      }
    }
    return seq;
  }

  /** @param {number} seq */
  ack(seq) {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: MessageType.FRAME_ACK, seq }));
    }
  }

  /** @param {number} code @param {string} reason */
  closed(code, reason) {
    this.ready = false;
    if (this.closedForGood) return;
    if (FINAL_CLOSES.includes(code) || this.attempts >= 5) {
      this.closedForGood = true;
      this.bus.emit("connection", { state: "closed", code, reason });
      return;
    }
    // Expired, site offline, daphne's 24 h limit or a network drop: a new session attach.
    this.attempts += 1;
    this.bus.emit("connection", { state: "reconnecting", code, reason });
    setTimeout(() => {
      this.open().catch((error) =>
        this.bus.emit("connection", { state: "closed", code, reason: String(error.message) }),
      );
    }, 1000 * this.attempts);
  }

  scheduleRenew() {
    clearTimeout(this.renewTimer);
    if (!this.session) return;
    const due = Date.parse(this.session.expires_at) - Date.now() - RENEW_MARGIN_MS;
    this.renewTimer = window.setTimeout(async () => {
      if (!this.session) return;
      try {
        this.session = await apiCall(`/api/sessions/${this.session.id}/renew/`, { method: "POST" });
        this.scheduleRenew();
      } catch {
        /* the socket's close (4408) drives the reconnect */
      }
    }, Math.max(due, 10_000));
  }

  /** Close the socket and the session (page leaving). */
  close() {
    this.closedForGood = true;
    clearTimeout(this.renewTimer);
    this.socket?.close(1000);
    if (this.session) {
      const body = new Blob([], { type: "application/json" });
      // keepalive fetch: runs while the page unloads
      fetch(`/api/sessions/${this.session.id}/close/`, {
        method: "POST", credentials: "same-origin", keepalive: true, body,
        headers: { "X-CSRFToken": document.getElementById("viewer-root")?.dataset.csrf ?? "" },
      }).catch(() => {});
    }
  }
}
