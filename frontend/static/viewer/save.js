// Saving labels at the site: explicit save, autosave, the role="status" indicator ("Saving…",
// "Saved at site", "Stored in PACS", or a failure with Retry), the leave-page guard, and loading
// the task's labels back from the site when the session is ready.

import { buildDocument, parseDocument } from "./document.js";
import { ErrorCode, LabelState, MessageType } from "./protocol.js";

/** @typedef {import("./bus.js").Bus} Bus */

const AUTOSAVE_MS = 4000;
const ANSWER_TIMEOUT_MS = 20000;

export class Saver {
  /**
   * @param {{bus: Bus, store: import("./annotations.js").AnnotationStore,
   *   connection: {send: (m: object) => number, ready: boolean}, task: number, schemaVersion: number,
   *   status: HTMLElement, retry: HTMLButtonElement, editable: boolean}} options
   */
  constructor({ bus, store, connection, task, schemaVersion, status, retry, editable }) {
    this.task = task;
    this.schemaVersion = schemaVersion;
    this.editable = editable;
    /** @type {number|undefined} */
    this.loadRetry = undefined;
    this.loadAttempts = 0;
    this.bus = bus;
    this.store = store;
    this.connection = connection;
    this.status = status;
    this.retry = retry;
    this.savedVersion = store.version;
    /** @type {?number} */
    this.revision = null;
    /** @type {?{seq:number, version:number, timer:number}} */
    this.pending = null;
    /** @type {?number} */
    this.loadSeq = null;
    this.loaded = false;
    /** @type {number|undefined} */
    this.autosaveTimer = undefined;
    retry.addEventListener("click", () => this.save());
    bus.on("annotations", ({ reason }) => {
      if (reason === "load" || reason === "visibility") return;
      this.show("Unsaved changes", "dirty");
      clearTimeout(this.autosaveTimer);
      if (this.editable) this.autosaveTimer = window.setTimeout(() => this.save(), AUTOSAVE_MS);
    });
    bus.on("message", (m) => this.receive(m));
    bus.on("connection", ({ state }) => {
      if (state !== "ready") return;
      if (!this.loaded) this.load();
      // Edits that could not be saved while the site was away are saved as soon as it is back.
      else if (this.editable && this.dirty && !this.pending) this.save();
    });
    window.addEventListener("beforeunload", (e) => {
      if (this.dirty) {
        e.preventDefault();
        e.returnValue = "";
      }
    });
  }

  get dirty() {
    return this.store.version !== this.savedVersion || this.pending !== null;
  }

  /** @param {string} text @param {string} state @param {boolean} [canRetry] */
  show(text, state, canRetry = false) {
    this.status.textContent = text;
    this.status.dataset.state = state;
    this.retry.hidden = !canRetry;
    this.bus.emit("save", { state, text, revision: this.revision });
  }

  load() {
    this.loadSeq = this.connection.send({ type: MessageType.LABEL_LOAD });
    this.show("Loading labels from the site…", "loading");
  }

  save() {
    clearTimeout(this.autosaveTimer);
    if (!this.editable) return;
    if (!this.loaded) {
      this.show("Labels are not loaded from the site yet; not saving over them.", "failed", true);
      return;
    }
    if (this.pending) return; // saved again when this one is answered
    if (!this.connection.ready) {
      this.show("Not connected to the site: not saved.", "failed", true);
      return;
    }
    const version = this.store.version;
    const document = buildDocument({
      task: this.task, schemaVersion: this.schemaVersion, baseRevision: this.revision,
      annotations: this.store.all(),
    });
    const seq = this.connection.send({ type: MessageType.LABEL_SAVE, document });
    const timer = window.setTimeout(() => this.failed("no answer from the site"), ANSWER_TIMEOUT_MS);
    this.pending = { seq, version, timer };
    this.show("Saving…", "saving");
  }

  /** @param {string} reason */
  failed(reason) {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = null;
    this.show(`Not saved: ${reason}`, "failed", true);
  }

  /** @param {any} m */
  receive(m) {
    if (m.type === MessageType.LABEL_DOCUMENT && m.seq === this.loadSeq) {
      this.loaded = true;
      this.revision = typeof m.revision === "number" ? m.revision : null;
      this.store.load(parseDocument(m.document));
      this.savedVersion = this.store.version;
      this.show(this.revision === null ? "No labels saved yet" : "Saved at site", "loaded");
    } else if (m.type === MessageType.LABEL_SAVED && this.pending && m.seq === this.pending.seq) {
      clearTimeout(this.pending.timer);
      this.savedVersion = this.pending.version;
      this.pending = null;
      this.revision = m.revision ?? this.revision;
      this.show("Saved at site", "saved");
      if (this.store.version !== this.savedVersion) this.save();
    } else if (m.type === MessageType.LABEL_STATUS && m.revision === this.revision) {
      const state = m.state ?? m.status;
      if (state === LabelState.STORED_IN_PACS) this.show("Stored in PACS", "stored");
      else if (state === LabelState.SAVED_AT_SITE) this.show("Saved at site", "saved");
      else if (state === LabelState.FAILED) {
        this.show(`Saved at site; storing in PACS failed: ${String(m.reason ?? "unknown")}`, "pacs-failed");
      }
    } else if (m.type === MessageType.ERROR) {
      if (this.pending && m.seq === this.pending.seq) {
        const conflict = m.code === ErrorCode.LABEL_CONFLICT;
        this.failed(conflict ? "someone saved newer labels; reload the page" : String(m.message));
      } else if (m.seq !== undefined && m.seq === this.loadSeq) {
        if (m.code === ErrorCode.NOT_FOUND) {
          this.loaded = true;
          this.show("No labels saved yet", "loaded");
        } else {
          this.show(`Labels could not be loaded: ${String(m.message)}`, "failed");
          this.loadAttempts += 1;
          const wait = Math.min(30_000, 1000 * 2 ** this.loadAttempts);
          this.loadRetry = window.setTimeout(() => this.load(), wait);
        }
      }
    }
  }
}
