// The viewer page: wires the modules together. Server data comes from json_script only.

import { AnnotationStore, clone, newUid } from "./annotations.js";
import { createBus } from "./bus.js";
import { bindClassify } from "./classify.js";
import { Cine } from "./cine.js";
import { Connection } from "./connection.js";
import { painter } from "./draw.js";
import { FrameScheduler } from "./frames.js";
import { bindPointer, createWindowing } from "./input.js";
import { LabelPicker } from "./labels.js";
import { Overlay } from "./overlay.js";
import { presetsFor } from "./presets.js";
import { Plane } from "./protocol.js";
import { Saver } from "./save.js";
import { Shortcuts, renderHelp } from "./shortcuts.js";
import { submitTask } from "./submit.js";
import { BRUSH_TOOLS } from "./tools/brush.js";
import { planeSpacing } from "./tools/geometry.js";
import { ToolRegistry } from "./tools/registry.js";
import { SELECT_TOOLS } from "./tools/select.js";
import { SHAPE_TOOLS } from "./tools/shapes.js";
import { History } from "./undo.js";
import { Viewport } from "./viewport.js";
import { bindToolbar } from "./toolbar.js";
import { exposeMetrics } from "./metrics.js";
import { classificationsAt, drawLegend } from "./legend.js";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const data = JSON.parse($("viewer-data").textContent ?? "{}");
const task = data.task;
const series = task.series_handle;

const bus = createBus();
const history = new History(bus);
const store = new AnnotationStore({ bus, history });
const connection = new Connection({ bus, sessionsUrl: data.urls.sessions });
const message = $("viewer-message");
const notify = (/** @type {string} */ text) => {
  message.textContent = text;
};

// The reviewer's comment on a rejected (or approved) task: what to change. Text only.
const review = $("review-note");
if (task.review_comment && ["rejected", "approved"].includes(task.status)) {
  const who = task.status === "rejected" ? "Returned by the reviewer" : "Reviewer's note";
  review.textContent = `${who}: ${task.review_comment}`;
  review.hidden = false;
}

/** @type {any} */
let info = null;
const view = { index: 0, plane: /** @type {string} */ (Plane.AXIAL) };
/** @type {?{center:number, width:number}} */
let shownWindow = null;
/** @type {?{center:number, width:number}} */
let chosenWindow = null;

const picker = new LabelPicker({
  bus, root: $("label-picker"), entries: data.schema.entries,
  setHidden: (key, hidden) => store.setHidden(key, hidden), isHidden: (key) => store.hidden.has(key),
});
const editable = () => data.may_annotate && !["submitted", "approved"].includes(task.status);
// The site writes labels back only on acquired slices (SCOORD needs a source image): MPR is for viewing.
const drawable = () => editable() && view.plane === Plane.AXIAL;
const frameRef = () => (info ? { series, index: view.index, plane: view.plane } : null);

/** @type {import("./tools/registry.js").ToolContext} */
const toolContext = {
  store, bus, frame: frameRef, label: (kind) => picker.label(kind), notify, editable: drawable,
  spacing: () => planeSpacing(info, view.plane), selected: null, brushSize: 12, state: {},
  viewport: /** @type {any} */ (null),
  windowing: /** @type {any} */ (null),
};

/** @type {import("./legend.js").LegendItem[]} the classification legend on screen */
let legendShown = [];
const entryOf = (/** @type {string} */ key) => data.schema.entries.find((/** @type {any} */ e) => e.key === key) ?? null;
const classesHere = () => classificationsAt(store.all(), frameRef(), (key) => store.hidden.has(key));

const viewport = new Viewport({
  bus, element: $("viewport"), image: /** @type {HTMLCanvasElement} */ ($("image-canvas")),
  overlay: /** @type {HTMLCanvasElement} */ ($("overlay-canvas")),
  drawOverlay: (ctx, vp) => {
    const at = frameRef();
    if (!at) return;
    const draw = painter(ctx, vp, (key) => picker.colour(key));
    const skip = toolContext.state.stroke?.working.uid;
    for (const a of store.onFrame(at)) {
      if (a.uid === skip || a.tool === "classification") continue;
      if (a.mask) draw.mask(a, a.uid === toolContext.selected ? 0.7 : 0.45);
      else draw.shape(a, a.label, a.uid === toolContext.selected);
    }
    tools.active?.preview?.(toolContext, draw);
    legendShown = drawLegend(ctx, vp.dpr, classesHere(), entryOf);
  },
  hasOverlay: () => {
    const at = frameRef();
    const s = toolContext.state;
    const any = !!at && (!!(s.drag || s.points || s.stroke || s.hover) ||
      store.onFrame(at).some((a) => a.tool !== "classification") || classesHere().length > 0);
    if (!any) legendShown = [];
    return any;
  },
});
toolContext.viewport = viewport;
const tools = new ToolRegistry(toolContext);
for (const tool of [...SELECT_TOOLS, ...SHAPE_TOOLS, ...BRUSH_TOOLS]) tools.register(tool);

const overlay = new Overlay({ bus, root: $("viewer-stage") });
/** @type {Record<string, {columns:number, rows:number}>} each plane's image grid (its lossless size) */
const grids = {};
const scheduler = new FrameScheduler({
  bus, connection, slices: () => sliceCount(),
  failed: (e) => notify(`The site could not show this image: ${e.message}`),
  // A preview fits the canvas once the plane's grid is known to be larger than it.
  previewSize: (plane) => {
    const grid = grids[plane];
    const { width, height } = viewport.imageCanvas;
    if (!grid || (grid.columns <= width && grid.rows <= height)) return null;
    return [Math.max(16, width), Math.max(16, height)];
  },
  paint: (bitmap, header, done) => {
    if (header.window) shownWindow = header.window;
    const plane = header.plane ?? Plane.AXIAL;
    if (header.quality !== "preview" && header.columns && header.rows) {
      grids[plane] = { columns: header.columns, rows: header.rows };
    }
    // A smaller preview is drawn over the plane's whole grid: the view and the tools' image
    // coordinates stay those of the full-size frame.
    const grid = header.quality === "preview" ? grids[plane] : undefined;
    viewport.show(bitmap, grid ? { ...header, columns: grid.columns, rows: grid.rows } : header, done);
    overlay.setFrame({ index: header.index, plane: header.plane ?? Plane.AXIAL, slices: sliceCount(),
      quality: header.quality ?? "lossless", window: header.window ?? null });
  },
});
scheduler.setSeries(series);
// ?prefetch=off: every frame asked for when shown (support on a constrained link; the timing test).
scheduler.prefetchEnabled = new URLSearchParams(location.search).get("prefetch") !== "off";
const windowing = createWindowing({
  current: () => chosenWindow ?? shownWindow,
  apply: (w, moving) => {
    chosenWindow = w;
    scheduler.request({ window: w }, { moving });
  },
});
toolContext.windowing = windowing;

const sliceCount = () => {
  if (!info) return 1;
  if (view.plane === Plane.CORONAL) return info.rows;
  if (view.plane === Plane.SAGITTAL) return info.columns;
  return info.slices;
};
const slider = /** @type {HTMLInputElement} */ ($("slice-slider"));
/** @param {number} index @param {boolean} moving */
function setSlice(index, moving) {
  const next = Math.max(0, Math.min(sliceCount() - 1, index));
  if (next === view.index && moving) return;
  view.index = next;
  slider.value = String(next);
  slider.setAttribute("aria-valuetext", `${view.plane} ${next + 1} of ${sliceCount()}`);
  toolContext.selected = null;
  scheduler.request({ index: next, plane: view.plane }, { moving });
  bus.emit("slice", { index: next, plane: view.plane });
}
slider.addEventListener("input", () => setSlice(Number(slider.value), true));

/** @param {string} plane */
function setPlane(plane) {
  if (!info?.planes?.includes(plane)) {
    notify(`${plane} is available once the site has the whole series.`);
    return;
  }
  view.plane = plane;
  slider.max = String(sliceCount() - 1);
  for (const b of document.querySelectorAll("[data-plane]")) {
    b.setAttribute("aria-pressed", String(/** @type {HTMLElement} */ (b).dataset.plane === plane));
  }
  setSlice(Math.floor(sliceCount() / 2), false);
}

bus.on("series", (message) => {
  const first = info === null;
  info = { ...info, ...message };
  slider.max = String(sliceCount() - 1);
  for (const b of document.querySelectorAll("[data-plane]")) {
    /** @type {HTMLButtonElement} */ (b).disabled = !info.planes?.includes(/** @type {HTMLElement} */ (b).dataset.plane);
  }
  renderPresets();
  if (first) setSlice(Math.floor(info.slices / 2), false);
});
bus.on("connection", ({ state, reason }) => {
  const text = { connecting: "Connecting to the site…", ready: "Connected", reconnecting: "Reconnecting…", closed: `Disconnected${reason ? `: ${reason}` : ""}` };
  $("connection-state").textContent = text[/** @type {keyof text} */ (state)] ?? state;
  if (state === "ready") {
    if (info) scheduler.resume();
    else connection.send({ type: "series.info", series });
  }
});
bus.on("error", (e) => {
  if (e.code !== "cancelled" && e.seq === undefined) notify(String(e.message));
});
bus.on("annotations", () => viewport.invalidate());
bus.on("selection", () => viewport.invalidate());

function renderPresets() {
  const list = presetsFor(info?.modality ?? "", data.presets);
  const box = $("presets");
  box.replaceChildren(...list.map((p, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${i + 1} ${p.name}`;
    b.title = `${p.name}: W ${p.width} / L ${p.center} (key ${i + 1})`;
    b.addEventListener("click", () => applyPreset(i + 1));
    return b;
  }));
}
/** @param {number} n 0 = the object's default window */
function applyPreset(n) {
  const list = presetsFor(info?.modality ?? "", data.presets);
  if (n === 0) chosenWindow = null;
  else if (list[n - 1]) chosenWindow = { center: list[n - 1].center, width: list[n - 1].width };
  else return;
  scheduler.request({ window: chosenWindow }, { moving: false });
}

const cine = new Cine({ bus, step: () => setSlice(view.index + 1 >= sliceCount() ? 0 : view.index + 1, true) });
const shortcuts = new Shortcuts({ own: data.shortcuts, preferencesUrl: data.urls.preferences });
const saver = new Saver({
  bus, store, connection, task: task.id, schemaVersion: data.schema.version,
  status: $("save-status"), retry: /** @type {HTMLButtonElement} */ ($("save-retry")), editable: editable(),
});
const classify = bindClassify({
  dialog: /** @type {HTMLDialogElement} */ ($("classify-dialog")), entries: data.schema.entries,
  store, frame: frameRef, editable: drawable,
});
const help = /** @type {HTMLDialogElement} */ ($("help-dialog"));

/** @type {Record<string, () => void>} */
const actions = {
  undo: () => history.undo(),
  redo: () => history.redo(),
  save: () => saver.save(),
  submit: () => submitTask({ data, task, saver, notify }),
  delete: () => {
    if (toolContext.selected && editable()) {
      store.remove(toolContext.selected);
      toolContext.selected = null;
    }
  },
  "copy-next": () => {
    const a = toolContext.selected ? store.get(toolContext.selected) : null;
    if (!a || !a.frame || !editable() || view.index + 1 >= sliceCount()) return;
    const copy = { ...clone(a), uid: newUid(), frame: { ...a.frame, index: a.frame.index + 1 } };
    store.add(copy);
    setSlice(view.index + 1, false);
    toolContext.selected = copy.uid;
  },
  fit: () => viewport.fit(),
  reset: () => {
    viewport.reset();
    applyPreset(0);
  },
  invert: () => viewport.toggleInvert(),
  cine: () => {
    const playing = cine.toggle();
    $("cine-button").setAttribute("aria-pressed", String(playing));
  },
  classify: () => classify.open(),
  help: () => {
    renderHelp(help, shortcuts, () => toolbar.refresh());
    help.showModal();
  },
  "next-task": () => {
    if (data.urls.next) location.assign(data.urls.next);
  },
};
/** @param {string} command */
function run(command) {
  if (tools.tools.has(command)) {
    tools.activate(command);
    picker.setKind(tools.active?.kind ?? null);
  } else actions[command]?.();
}
const toolbar = bindToolbar({ root: $("viewer-root"), shortcuts, run });
bus.on("tool", ({ name }) => {
  for (const b of document.querySelectorAll("[data-command]")) {
    if (tools.tools.has(/** @type {HTMLElement} */ (b).dataset.command ?? "")) {
      b.setAttribute("aria-pressed", String(/** @type {HTMLElement} */ (b).dataset.command === name));
    }
  }
});
bus.on("history", ({ canUndo, canRedo }) => {
  /** @type {HTMLButtonElement} */ ($("undo-button")).disabled = !canUndo;
  /** @type {HTMLButtonElement} */ ($("redo-button")).disabled = !canRedo;
});
for (const b of document.querySelectorAll("[data-plane]")) {
  b.addEventListener("click", () => setPlane(/** @type {HTMLElement} */ (b).dataset.plane ?? Plane.AXIAL));
}
const brushSize = /** @type {HTMLInputElement} */ ($("brush-size"));
brushSize.addEventListener("input", () => {
  toolContext.brushSize = Number(brushSize.value);
});
const cineRate = /** @type {HTMLInputElement} */ ($("cine-rate"));
cineRate.addEventListener("change", () => cine.setRate(Number(cineRate.value)));

bindPointer({ viewport, tools, windowing, scroll: (delta) => setSlice(view.index + delta, true) });

window.addEventListener("keydown", (e) => {
  const target = e.target instanceof Element ? e.target : document.body;
  if (target.closest("input, textarea, select, dialog[open]")) return;
  if (tools.key(e)) {
    e.preventDefault();
    return;
  }
  const nav = { ArrowUp: -1, ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, PageUp: -10, PageDown: 10 };
  if (e.key in nav && !e.ctrlKey && !e.altKey) {
    setSlice(view.index + nav[/** @type {keyof nav} */ (e.key)], true);
  } else if (e.key === "Home") setSlice(0, false);
  else if (e.key === "End") setSlice(sliceCount() - 1, false);
  else if (/^[0-9]$/.test(e.key) && !e.ctrlKey && !e.altKey) applyPreset(Number(e.key));
  else if ((e.key === "+" || e.key === "=") && !e.ctrlKey) viewport.zoomBy(1.25);
  else if (e.key === "-" && !e.ctrlKey) viewport.zoomBy(0.8);
  else if (e.key === "[" || e.key === "]") {
    toolContext.brushSize = Math.max(1, Math.min(80, toolContext.brushSize + (e.key === "]" ? 2 : -2)));
    brushSize.value = String(toolContext.brushSize);
    viewport.invalidate();
  }
  else {
    const command = shortcuts.match(e);
    if (!command) return;
    if (command === "cine" && target.closest("button")) return; // Space presses the button
    run(command);
  }
  e.preventDefault();
});
window.addEventListener("keyup", (e) => {
  if (["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageUp", "PageDown"].includes(e.key)) scheduler.settle();
});
window.addEventListener("pagehide", () => connection.close());

exposeMetrics({ bus, store, saver, view, sliceCount, scheduler, legend: () => legendShown });
run("select");
connection.open().catch((error) => {
  $("connection-state").textContent = `Could not open a session: ${error.message}`;
});
