// The project socket (/ws/projects/<id>/) with reconnect, plus a 30 s poll as the safety net: the
// channel layer delivers at most once, so a lost message only delays the board, never freezes it.

const POLL_MS = 30_000;
const RECONNECT_MS = 3_000;

/**
 * @param {number} projectId
 * @param {() => void} refresh called on every task event and every poll
 * @param {(state: string) => void} onState "open", "closed" or "refused"
 */
export function followProject(projectId, refresh, onState) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}/ws/projects/${projectId}/`;
  /** @type {number | undefined} */
  let pending;
  const soon = () => {
    if (pending === undefined) pending = window.setTimeout(() => { pending = undefined; refresh(); }, 200);
  };
  const connect = () => {
    const socket = new WebSocket(url);
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data));
      if (message.type === "project.ready") onState("open");
      else if (message.type === "project.task" || message.type === "project.tasks") soon();
    });
    socket.addEventListener("close", (event) => {
      // 4401/4403/4404: not signed in, not a lead, no such project: retrying will not help.
      if ([4401, 4403, 4404].includes(event.code)) { onState("refused"); return; }
      onState("closed");
      window.setTimeout(connect, RECONNECT_MS);
    });
  };
  connect();
  window.setInterval(refresh, POLL_MS);
}
