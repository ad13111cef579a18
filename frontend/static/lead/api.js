// The REST API from the lead's page: same-origin, session cookie + CSRF header, coded errors.

export class ApiError extends Error {
  /** @param {string} code @param {string} message @param {number} status */
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/**
 * @param {string} path
 * @param {{method?: string, body?: unknown, csrf?: string}} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { method = "GET", body, csrf = "" } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(error.code ?? "server_error", error.message ?? response.statusText, response.status);
  }
  return data;
}

/** Every page of a cursor-paginated list (bounded: at most `maxPages`). */
export async function apiAll(path, maxPages = 20) {
  const items = [];
  let next = path;
  for (let page = 0; next && page < maxPages; page += 1) {
    const data = await api(next);
    items.push(...data.results);
    next = data.next ? new URL(data.next).pathname + new URL(data.next).search : null;
  }
  return items;
}
