// The one tool registry: tools register here; activating one tears the previous one down.

/**
 * @typedef {{
 *   name: string, kind: ?string, cursor?: string,
 *   activate?: (ctx: ToolContext) => void, teardown?: (ctx: ToolContext) => void,
 *   down?: (ctx: ToolContext, p: number[], e: PointerEvent) => void,
 *   move?: (ctx: ToolContext, p: number[], e: PointerEvent) => void,
 *   up?: (ctx: ToolContext, p: number[], e: PointerEvent) => void,
 *   dblclick?: (ctx: ToolContext, p: number[]) => void,
 *   key?: (ctx: ToolContext, e: KeyboardEvent) => boolean,
 *   preview?: (ctx: ToolContext, draw: any) => void,
 * }} Tool
 * @typedef {{
 *   store: import("../annotations.js").AnnotationStore, viewport: import("../viewport.js").Viewport,
 *   bus: import("../bus.js").Bus, frame: () => ?import("../annotations.js").FrameRef,
 *   label: (kind: string) => ?string, spacing: () => ?[number, number],
 *   notify: (text: string) => void, editable: () => boolean,
 *   selected: ?string, brushSize: number, state: any,
 *   windowing: {begin: (e: PointerEvent) => any, drag: (e: PointerEvent) => void, end: () => void},
 * }} ToolContext
 */

export class ToolRegistry {
  /** @param {ToolContext} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    /** @type {Map<string, Tool>} */
    this.tools = new Map();
    /** @type {?Tool} */
    this.active = null;
    this.blocked = false;
  }

  /** @param {Tool} tool */
  register(tool) {
    this.tools.set(tool.name, tool);
  }

  /** @param {string} name */
  activate(name) {
    const tool = this.tools.get(name);
    if (!tool || tool === this.active) return;
    if (this.active?.teardown) this.active.teardown(this.ctx);
    this.ctx.state = {};
    this.active = tool;
    tool.activate?.(this.ctx);
    this.ctx.viewport.overlayCanvas.style.cursor = tool.cursor ?? "crosshair";
    this.ctx.bus.emit("tool", { name });
    this.ctx.viewport.invalidate();
  }

  /** @param {"down"|"move"|"up"} phase @param {number[]} p @param {PointerEvent} e */
  pointer(phase, p, e) {
    if (phase === "down") {
      this.blocked = !!this.active?.kind && !this.ctx.editable();
      if (this.blocked) {
        this.ctx.notify(this.ctx.frame()?.plane === "axial" || !this.ctx.frame()
          ? "This task is read-only here."
          : "Labels are drawn on axial slices; coronal and sagittal are for viewing.");
      }
    }
    const handler = this.active?.[phase];
    if (!handler || this.blocked) return;
    handler(this.ctx, p, e);
    this.ctx.viewport.invalidate();
  }

  /** @param {number[]} p */
  dblclick(p) {
    this.active?.dblclick?.(this.ctx, p);
    this.ctx.viewport.invalidate();
  }

  /** @param {KeyboardEvent} e @returns {boolean} handled */
  key(e) {
    const handled = this.active?.key?.(this.ctx, e) ?? false;
    if (handled) this.ctx.viewport.invalidate();
    return handled;
  }
}
