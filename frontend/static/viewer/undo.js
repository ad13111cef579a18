// Undo/redo: a list of entries that know how to reverse themselves. Every edit goes through here.

/** @typedef {import("./bus.js").Bus} Bus */
/** @typedef {{name: string, undo: () => void, redo: () => void}} Entry */

const LIMIT = 500;

export class History {
  /** @param {Bus} bus */
  constructor(bus) {
    this.bus = bus;
    /** @type {Entry[]} */
    this.done = [];
    /** @type {Entry[]} */
    this.undone = [];
  }

  /** Record an edit that has already been applied. @param {Entry} entry */
  push(entry) {
    this.done.push(entry);
    if (this.done.length > LIMIT) this.done.shift();
    this.undone = [];
    this.changed();
  }

  undo() {
    const entry = this.done.pop();
    if (!entry) return false;
    entry.undo();
    this.undone.push(entry);
    this.changed();
    return true;
  }

  redo() {
    const entry = this.undone.pop();
    if (!entry) return false;
    entry.redo();
    this.done.push(entry);
    this.changed();
    return true;
  }

  clear() {
    this.done = [];
    this.undone = [];
    this.changed();
  }

  changed() {
    this.bus.emit("history", { canUndo: this.done.length > 0, canRedo: this.undone.length > 0 });
  }
}
