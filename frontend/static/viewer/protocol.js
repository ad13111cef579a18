// Wire protocol v1, browser side. Mirrors site_gateway/protocol.py (the one definition);
// tests/frontend/test_protocol_constants.py keeps the two in step.

export const PROTOCOL_VERSION = 1;
export const MAX_TEXT_BYTES = 8 * 1024 * 1024;
export const MAX_FRAME_HEADER_BYTES = 4096;
/** Central forwards at most this many unacknowledged frames per session. */
export const ACK_WINDOW = 8;
/** A site keeps at most this many prefetch requests per session (older ones are cancelled). */
export const MAX_PREFETCH_REQUESTS = 16;

export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 4400,
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
  UNKNOWN_SESSION: 4404,
  EXPIRED: 4408,
  REPLACED: 4409,
  TOO_LARGE: 4413,
  SITE_OFFLINE: 4503,
});

export const ErrorCode = Object.freeze({
  BAD_MESSAGE: "bad_message",
  UNKNOWN_TYPE: "unknown_type",
  TOO_LARGE: "too_large",
  NOT_ALLOWED: "not_allowed",
  OUT_OF_SCOPE: "out_of_scope",
  GRANT_INVALID: "grant_invalid",
  GRANT_EXPIRED: "grant_expired",
  GRANT_REPLAYED: "grant_replayed",
  GRANT_WRONG_SITE: "grant_wrong_site",
  POLICY_REFUSED: "policy_refused",
  SESSION_CLOSED: "session_closed",
  SITE_OFFLINE: "site_offline",
  NOT_FOUND: "not_found",
  PACS_UNAVAILABLE: "pacs_unavailable",
  PACS_TIMEOUT: "pacs_timeout",
  IMAGE_ERROR: "image_error",
  CANCELLED: "cancelled",
  LABEL_INVALID: "label_invalid",
  LABEL_CONFLICT: "label_conflict",
  INTERNAL: "internal",
  BUSY: "busy",
});

export const MessageType = Object.freeze({
  AUTH_CHALLENGE: "auth.challenge",
  AUTH_RESPONSE: "auth.response",
  AUTH_OK: "auth.ok",
  HEARTBEAT: "heartbeat",
  TASK_LABELS: "task.labels",
  AUDIT_DIGEST: "audit.digest",
  SESSION_ATTACH: "session.attach",
  SESSION_REVOKE: "session.revoke",
  BROWSE_QUERY: "browse.query",
  BROWSE_THUMBNAIL: "browse.thumbnail",
  SELECTION_WRITE: "selection.write",
  SELECTION_WITHDRAW: "selection.withdraw",
  AGREEMENT_QUERY: "agreement.query",
  LABELS_QUERY: "labels.query",
  BROWSE_RESULT: "browse.result",
  THUMBNAIL_RESULT: "thumbnail.result",
  SELECTION_WRITTEN: "selection.written",
  SELECTION_WITHDRAWN: "selection.withdrawn",
  AGREEMENT_RESULT: "agreement.result",
  LABELS_RESULT: "labels.result",
  SESSION_STATE: "session.state",
  SERIES_INFO: "series.info",
  FRAME_REQUEST: "frame.request",
  FRAME_CANCEL: "frame.cancel",
  LABEL_SAVE: "label.save",
  LABEL_LOAD: "label.load",
  FRAME_ACK: "frame.ack",
  SESSION_READY: "session.ready",
  RETRIEVE_PROGRESS: "retrieve.progress",
  LABEL_SAVED: "label.saved",
  LABEL_STATUS: "label.status",
  LABEL_DOCUMENT: "label.document",
  ERROR: "error",
  PING: "ping",
  PONG: "pong",
});

export const Plane = Object.freeze({ AXIAL: "axial", CORONAL: "coronal", SAGITTAL: "sagittal" });
export const Quality = Object.freeze({ PREVIEW: "preview", LOSSLESS: "lossless" });
export const Priority = Object.freeze({ INTERACTIVE: "interactive", PREFETCH: "prefetch" });
export const LabelState = Object.freeze({
  SAVED_AT_SITE: "saved_at_site",
  STORED_IN_PACS: "stored_in_pacs",
  FAILED: "failed",
});

/** Close codes after which reconnecting cannot help. @type {readonly number[]} */
export const FINAL_CLOSES = Object.freeze([
  CloseCode.UNAUTHENTICATED,
  CloseCode.FORBIDDEN,
  CloseCode.UNKNOWN_SESSION,
  CloseCode.REPLACED,
]);

/**
 * @typedef {{type:"frame", seq:number, series:string, index:number, plane?:string,
 *   quality?:string, format:"jpeg"|"png", rows?:number, columns?:number,
 *   window?:?{center:number, width:number}}} FrameHeader
 */

/**
 * Split a binary frame `[u16 BE header length][JSON header][image bytes]`.
 * @param {ArrayBuffer} buffer
 * @returns {{header: FrameHeader, image: Uint8Array}}
 */
export function unpackFrame(buffer) {
  if (buffer.byteLength < 2) throw new Error("binary frame shorter than its length prefix");
  const length = new DataView(buffer).getUint16(0, false);
  if (length > MAX_FRAME_HEADER_BYTES || 2 + length > buffer.byteLength) {
    throw new Error("binary frame header length is wrong");
  }
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 2, length)));
  if (header === null || typeof header !== "object") throw new Error("frame header not an object");
  return { header, image: new Uint8Array(buffer, 2 + length) };
}
