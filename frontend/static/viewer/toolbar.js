// Toolbar buttons: each has data-command and an aria-label; its title shows the current shortcut.

import { COMMANDS } from "./shortcuts.js";

/**
 * @param {{root: HTMLElement, shortcuts: import("./shortcuts.js").Shortcuts,
 *   run: (command: string) => void}} options
 */
export function bindToolbar({ root, shortcuts, run }) {
  const buttons = /** @type {HTMLButtonElement[]} */ ([...root.querySelectorAll("button[data-command]")]);
  for (const button of buttons) {
    button.addEventListener("click", () => run(button.dataset.command ?? ""));
  }
  const refresh = () => {
    for (const button of buttons) {
      const command = button.dataset.command ?? "";
      const title = COMMANDS[command]?.title ?? button.getAttribute("aria-label") ?? command;
      const key = shortcuts.keyFor(command);
      button.title = key ? `${title} (${key})` : title;
      if (key) button.setAttribute("aria-keyshortcuts", key.replace("Ctrl", "Control").replace("Space", "Space"));
    }
  };
  refresh();
  return { refresh };
}
