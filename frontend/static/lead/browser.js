// The series browser: every site of the project queried in parallel through its gateway; each
// site's studies shown as they arrive (an offline site says so), filters, sorting, thumbnails
// rendered at the site (lazy), and select / exclude with a coded reason.

import { api } from "./api.js";
import { openCheck, setUpCheck } from "./check.js";
import { el, fillTable } from "./dom.js";

/** @typedef {{site: number, site_name: string, study: any, series: any}} Row */

/** Results per site id: {status, error, studies}. */
const results = new Map();
/** Slice thickness per series handle, learnt from its thumbnail. */
const thickness = new Map();
/** Thumbnail (object URL) per series handle: a re-render (another site answered, a filter, a
 * sort) reuses it instead of asking the site again. */
const thumbnails = new Map();
/** Rows rendered at most until "show more": 3 sites × 200 studies are ~1200 series, and building
 * every row on each site's answer kept the first results from the screen (bench/browse.py). */
const PAGE_ROWS = 200;
let shownRows = PAGE_ROWS;
let generation = 0;

const SORTS = /** @type {Record<string, (a: Row, b: Row) => number>} */ ({
  site: (a, b) => a.site_name.localeCompare(b.site_name) || (a.series.number ?? 0) - (b.series.number ?? 0),
  year: (a, b) => String(b.study.year ?? "").localeCompare(String(a.study.year ?? "")),
  modality: (a, b) => String(a.series.modality ?? "").localeCompare(String(b.series.modality ?? "")),
  images: (a, b) => (b.series.images ?? 0) - (a.series.images ?? 0),
  description: (a, b) => String(a.series.description ?? "").localeCompare(String(b.series.description ?? "")),
});

/** @param {HTMLFormElement} form */
function queryOf(form) {
  const params = new URLSearchParams();
  for (const name of ["modality", "body_part", "text", "min_images"]) {
    const value = /** @type {HTMLInputElement} */ (form.elements.namedItem(name)).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    observer.unobserve(entry.target);
    loadThumbnail(/** @type {HTMLImageElement} */ (entry.target));
  }
}, { rootMargin: "200px" });

/** @param {HTMLImageElement} img */
async function loadThumbnail(img) {
  const { url, series } = img.dataset;
  try {
    const response = await fetch(url ?? "", { credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    const slice = response.headers.get("X-Slice-Thickness");
    if (slice && series) {
      thickness.set(series, slice);
      const cell = document.querySelector(`[data-thickness="${series}"]`);
      if (cell) cell.textContent = `${slice} mm`;
    }
    const src = URL.createObjectURL(await response.blob());
    if (series) thumbnails.set(series, src);
    img.src = src;
    img.dataset.loaded = "yes";
  } catch {
    img.alt = "no thumbnail";
    img.dataset.loaded = "failed";
  }
}

/**
 * @param {any} data page data
 * @param {string} csrf
 * @param {(e: unknown) => void} fail
 * @param {() => void} selected called after a selection was recorded
 * @param {() => Map<string, number>} taskOf series handle → a task of it (for the read-only viewer)
 */
export function setUpBrowser(data, csrf, fail, selected, taskOf) {
  const form = /** @type {HTMLFormElement} */ (document.getElementById("browse-form"));
  const siteFilter = /** @type {HTMLSelectElement} */ (document.getElementById("browse-site"));
  const sort = /** @type {HTMLSelectElement} */ (document.getElementById("browse-sort"));
  siteFilter.append(...data.sites.map((/** @type {any} */ s) => el("option", { value: String(s.id) }, s.name)));
  const statusList = /** @type {HTMLElement} */ (document.getElementById("browse-status"));
  setUpCheck();
  const more = /** @type {HTMLButtonElement} */ (document.getElementById("browse-more"));
  more.addEventListener("click", () => { shownRows += PAGE_ROWS; render(); });

  function renderStatus() {
    statusList.replaceChildren(...data.sites.map((/** @type {any} */ site) => {
      const r = results.get(site.id);
      const more = r?.truncated ? " (more at the site: narrow the search)" : "";
      const text = !r ? "loading…" : r.status === "ok" ? `${r.studies.length} studies${more}`
        : r.status === "error" ? `error: ${r.error?.message ?? ""}` : r.status;
      return el("li", { "data-site-status": String(site.id), "data-state": r ? r.status : "loading" },
        `${site.name}: ${text}`);
    }));
  }

  function render() {
    const only = siteFilter.value;
    /** @type {Row[]} */
    const rows = [];
    for (const site of data.sites) {
      const r = results.get(site.id);
      if (!r || r.status !== "ok" || (only && String(site.id) !== only)) continue;
      for (const study of r.studies) {
        for (const series of study.series) rows.push({ site: site.id, site_name: site.name, study, series });
      }
    }
    rows.sort(SORTS[sort.value] ?? SORTS.site);
    const table = /** @type {HTMLTableElement} */ (document.getElementById("browse-results"));
    const tasks = taskOf();
    observer.disconnect(); // the rows it watched are replaced
    const shown = rows.slice(0, shownRows);
    fillTable(table, ["", "site", "study", "year", "#", "modality", "body part", "series", "images",
      "slice", "select", "check"], shown.map((row) => seriesRow(row, tasks)));
    /** @type {HTMLElement} */ (document.getElementById("browse-count")).textContent =
      shown.length < rows.length ? `${rows.length} series (the first ${shown.length} shown)` : `${rows.length} series`;
    more.hidden = shown.length >= rows.length;
    more.textContent = `Show ${Math.min(PAGE_ROWS, rows.length - shown.length)} more`;
  }

  /** @param {Row} row @param {Map<string, number>} tasks */
  function seriesRow(row, tasks) {
    const handle = row.series.series;
    const img = /** @type {HTMLImageElement} */ (el("img", { width: "64", height: "64", alt: `Thumbnail of ${handle}`,
      "data-series": handle,
      "data-url": `/api/projects/${data.project.id}/sites/${row.site}/series/${handle}/thumbnail` }));
    const known = thumbnails.get(handle);
    if (known) {
      img.src = known;
      img.dataset.loaded = "yes";
    } else {
      observer.observe(img);
    }
    const reason = /** @type {HTMLSelectElement} */ (el("select", { "aria-label": `Reason for series ${handle}` },
      ...Object.entries(data.reasons).map(([key, meaning]) =>
        el("option", { value: key }, `${data.reason_decisions[key]}: ${meaning}`))));
    const button = el("button", { type: "button", "aria-label": `Select series ${handle}` }, "record");
    button.addEventListener("click", async () => {
      try {
        await api(`/api/projects/${data.project.id}/selections/`, { method: "POST", csrf, body: {
          site: row.site, study_handle: row.study.study, series_handle: handle,
          decision: data.reason_decisions[reason.value], reason: reason.value } });
        button.textContent = "recorded";
        selected();
      } catch (error) { fail(error); }
    });
    const task = tasks.get(handle);
    const look = el("button", { type: "button", "aria-label": `Check series ${handle}` }, "check");
    look.addEventListener("click", () => openCheck(data.project.id, row.site, handle, row.series.images ?? 1,
      `${row.site_name}, ${row.series.modality ?? ""} ${row.series.description ?? handle}`));
    const check = el("span", {}, look, ...(task ? [" ", el("a", { href: `/tasks/${task}/view/`,
      "aria-label": `Open series ${handle} read-only` }, "in viewer")] : []));
    return el("tr", { "data-series": handle, "data-site": String(row.site) },
      el("td", {}, img), el("td", {}, row.site_name), el("td", {}, row.study.description ?? "—"),
      el("td", {}, row.study.year ?? "—"), el("td", {}, String(row.series.number ?? "")),
      el("td", {}, row.series.modality ?? ""), el("td", {}, row.series.body_part ?? ""),
      el("td", {}, row.series.description ?? ""), el("td", {}, String(row.series.images ?? "")),
      el("td", { "data-thickness": handle }, thickness.has(handle) ? `${thickness.get(handle)} mm` : ""),
      el("td", {}, reason, button), el("td", {}, check));
  }

  async function search() {
    const mine = ++generation;
    results.clear();
    shownRows = PAGE_ROWS;
    renderStatus();
    render();
    const params = queryOf(form);
    await Promise.all(data.sites.map(async (/** @type {any} */ site) => {
      let r;
      try {
        r = await api(`/api/projects/${data.project.id}/sites/${site.id}/series/?${params}`);
      } catch (error) {
        r = { status: "error", error: { message: /** @type {Error} */ (error).message }, studies: [] };
      }
      if (mine !== generation) return; // a newer search started
      results.set(site.id, r);
      renderStatus();
      render();
    }));
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); search().catch(fail); });
  siteFilter.addEventListener("change", render);
  sort.addEventListener("change", render);
  search().catch(fail);
  return render;
}
