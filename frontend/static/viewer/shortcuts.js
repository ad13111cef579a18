// Keyboard shortcuts: defaults, the user's own keys (stored centrally via PUT /api/me/preferences/),
// matching of key events, and the help overlay (`?`) where keys are shown and changed.
// COMMANDS mirrors SHORTCUT_COMMANDS in annotations/services/users.py (a test compares them).

import { apiCall } from "./api.js";

/** @type {Readonly<Record<string, {key: string, title: string}>>} */
export const COMMANDS = Object.freeze({
  select: { key: "v", title: "Select" },
  rectangle: { key: "r", title: "Rectangle" },
  ellipse: { key: "e", title: "Ellipse" },
  polygon: { key: "p", title: "Polygon" },
  freehand: { key: "f", title: "Freehand" },
  brush: { key: "b", title: "Brush" },
  eraser: { key: "x", title: "Eraser" },
  point: { key: "t", title: "Point" },
  length: { key: "l", title: "Length" },
  angle: { key: "a", title: "Angle" },
  classify: { key: "c", title: "Classify" },
  undo: { key: "Ctrl+z", title: "Undo" },
  redo: { key: "Ctrl+y", title: "Redo" },
  save: { key: "Ctrl+s", title: "Save" },
  submit: { key: "Ctrl+Enter", title: "Submit" },
  delete: { key: "Delete", title: "Delete selected" },
  "copy-next": { key: "Shift+c", title: "Copy to next slice" },
  pan: { key: "h", title: "Pan" },
  zoom: { key: "z", title: "Zoom" },
  window: { key: "w", title: "Window/level" },
  fit: { key: "Shift+f", title: "Fit" },
  reset: { key: "Shift+r", title: "Reset view" },
  invert: { key: "i", title: "Invert" },
  cine: { key: "Space", title: "Cine play/stop" },
  help: { key: "?", title: "Keyboard help" },
  "next-task": { key: "n", title: "Next task" },
});

/** Fixed keys, listed in the help overlay only. */
export const FIXED_KEYS = Object.freeze([
  ["↑ ↓ / wheel", "Previous / next slice"], ["PageUp / PageDown", "10 slices"],
  ["Home / End", "First / last slice"], ["1 … 9", "Window presets"], ["0", "Default window"],
  ["+ / −", "Zoom"], ["[ / ]", "Brush size"], ["Right-drag", "Window/level"], ["Middle-drag", "Pan"], ["Esc", "Cancel"],
]);

/** Keys the viewer handles before any shortcut (main.js, a tool's Enter/Esc): not for binding. */
const RESERVED_PLAIN = new Map([
  ...["arrowup", "arrowdown", "arrowleft", "arrowright", "pageup", "pagedown", "home", "end"]
    .map((k) => [k, "moving through the slices"]),
  ...[..."0123456789"].map((k) => [k, "window presets"]),
  ["+", "zoom"], ["=", "zoom"], ["-", "zoom"],
  ["escape", "cancelling"], ["enter", "closing a polygon"], ["tab", "moving the focus"],
]);

/**
 * What a key is kept for, or null if it may be bound to a command.
 * @param {string} key a keyName(): "Ctrl+z", "Shift+ArrowDown", "+"
 * @returns {?string}
 */
export function reservedFor(key) {
  const match = /^((?:(?:Ctrl|Alt|Shift)\+)*)(.+)$/.exec(key);
  const mods = match?.[1] ?? "";
  const base = (match?.[2] ?? key).toLowerCase();
  if (base === "[" || base === "]") return "brush size";
  if (/Ctrl|Alt/.test(mods)) return null;
  return RESERVED_PLAIN.get(base) ?? null;
}

/** Normalised key name of an event: "Ctrl+z", "Shift+c", "?", "PageUp". @param {KeyboardEvent} e */
export function keyName(e) {
  let key = e.key === " " ? "Space" : e.key;
  const single = key.length === 1;
  const mods = [];
  if (e.ctrlKey || e.metaKey) mods.push("Ctrl");
  if (e.altKey) mods.push("Alt");
  // Shift is part of a printed symbol ("?", "+"); it is named only for letters and named keys.
  if (e.shiftKey && (!single || /[a-z]/i.test(key))) mods.push("Shift");
  if (single) key = key.toLowerCase();
  return [...mods, key].join("+");
}

export class Shortcuts {
  /** @param {{own: Record<string, string>, preferencesUrl: string}} options */
  constructor({ own, preferencesUrl }) {
    this.preferencesUrl = preferencesUrl;
    /** @type {Record<string, string>} the user's overrides */
    this.own = { ...own };
  }

  /** @param {string} command @returns {string} */
  keyFor(command) {
    return this.own[command] ?? COMMANDS[command]?.key ?? "";
  }

  /** @param {KeyboardEvent} e @returns {?string} the command bound to this key */
  match(e) {
    const name = keyName(e).toLowerCase();
    for (const command of Object.keys(COMMANDS)) {
      if (this.keyFor(command).toLowerCase() === name) return command;
    }
    return null;
  }

  /** @param {string} command @param {string} key */
  async change(command, key) {
    const reserved = reservedFor(key);
    if (reserved) throw new Error(`${key} is kept for ${reserved}.`);
    const own = { ...this.own, [command]: key };
    for (const [other, value] of Object.entries(own)) {
      if (value === COMMANDS[other]?.key) delete own[other];
    }
    const clash = Object.keys(COMMANDS).find(
      (c) => c !== command && (own[c] ?? COMMANDS[c].key).toLowerCase() === key.toLowerCase(),
    );
    if (clash) throw new Error(`${key} is already used by ${COMMANDS[clash].title}.`);
    await apiCall(this.preferencesUrl, { method: "PUT", body: { shortcuts: own } });
    this.own = own;
  }

  /** Back to the default keys (stored centrally too). */
  async restoreDefaults() {
    await apiCall(this.preferencesUrl, { method: "PUT", body: { shortcuts: {} } });
    this.own = {};
  }
}

/**
 * Fill the help dialog: every command with its key and a "Change" button.
 * @param {HTMLDialogElement} dialog @param {Shortcuts} shortcuts @param {() => void} changed
 */
export function renderHelp(dialog, shortcuts, changed) {
  const table = /** @type {HTMLElement} */ (dialog.querySelector("[data-help-rows]"));
  const message = /** @type {HTMLElement} */ (dialog.querySelector("[data-help-message]"));
  const rows = Object.entries(COMMANDS).map(([command, { title }]) => {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = title;
    const key = document.createElement("td");
    const kbd = document.createElement("kbd");
    kbd.textContent = shortcuts.keyFor(command);
    key.append(kbd);
    const action = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Change";
    button.setAttribute("aria-label", `Change the key for ${title}`);
    button.addEventListener("click", () => {
      message.textContent = `Press the new key for ${title} (Esc to cancel).`;
      const capture = async (/** @type {KeyboardEvent} */ e) => {
        if (["Shift", "Control", "Alt", "Meta"].includes(e.key)) return;
        e.preventDefault();
        e.stopPropagation();
        window.removeEventListener("keydown", capture, true);
        if (e.key === "Escape") {
          message.textContent = "";
          return;
        }
        try {
          await shortcuts.change(command, keyName(e));
          message.textContent = `${title}: ${shortcuts.keyFor(command)} (saved).`;
          renderHelp(dialog, shortcuts, changed);
          changed();
        } catch (error) {
          message.textContent = String(/** @type {Error} */ (error).message);
        }
      };
      window.addEventListener("keydown", capture, true);
    });
    action.append(button);
    tr.append(name, key, action);
    return tr;
  });
  const fixed = FIXED_KEYS.map(([keys, what]) => {
    const tr = document.createElement("tr");
    const a = document.createElement("td");
    a.textContent = what;
    const b = document.createElement("td");
    const kbd = document.createElement("kbd");
    kbd.textContent = keys;
    b.append(kbd);
    tr.append(a, b, document.createElement("td"));
    return tr;
  });
  table.replaceChildren(...rows, ...fixed);
  const restore = /** @type {?HTMLButtonElement} */ (dialog.querySelector("[data-help-restore]"));
  if (restore) {
    restore.disabled = Object.keys(shortcuts.own).length === 0;
    restore.onclick = async () => {
      try {
        await shortcuts.restoreDefaults();
        message.textContent = "Default keys restored (saved).";
        renderHelp(dialog, shortcuts, changed);
        changed();
      } catch (error) {
        message.textContent = String(/** @type {Error} */ (error).message);
      }
    };
  }
}
