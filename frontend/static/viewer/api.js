// fetch() for central's REST API: same-origin cookies, CSRF header, JSON errors as Error(message).

/** @returns {string} */
function csrfToken() {
  const el = document.getElementById("viewer-root");
  return el?.dataset.csrf ?? "";
}

/**
 * @param {string} url
 * @param {{method?:string, body?:any}} [options]
 * @returns {Promise<any>}
 */
export async function apiCall(url, { method = "GET", body } = {}) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: {
      Accept: "application/json",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...(method === "GET" ? {} : { "X-CSRFToken": csrfToken() }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const message = data?.error?.message ?? `HTTP ${response.status}`;
    throw Object.assign(new Error(String(message)), { status: response.status, data });
  }
  return data;
}
