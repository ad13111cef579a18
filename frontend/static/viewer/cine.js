// Cine: step through the slices at a chosen rate, wrapping at the end. Frames still arrive at the
// rate the site and the link allow: a step is only taken once the previous frame was painted.

/** @typedef {import("./bus.js").Bus} Bus */

export class Cine {
  /** @param {{bus: Bus, step: () => void}} options */
  constructor({ bus, step }) {
    this.step = step;
    this.fps = 15;
    /** @type {number|undefined} */
    this.timer = undefined;
    this.waiting = false;
    this.since = 0;
    bus.on("painted", () => {
      this.waiting = false;
    });
  }

  get playing() {
    return this.timer !== undefined;
  }

  /** @param {number} fps */
  setRate(fps) {
    this.fps = Math.max(1, Math.min(60, fps));
    if (this.playing) {
      this.stop();
      this.start();
    }
  }

  start() {
    if (this.playing) return;
    this.timer = window.setInterval(() => {
      if (this.waiting && performance.now() - this.since < 1000) return;
      this.waiting = true;
      this.since = performance.now();
      this.step();
    }, 1000 / this.fps);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.waiting = false;
  }

  toggle() {
    if (this.playing) this.stop();
    else this.start();
    return this.playing;
  }
}
