// The lead's read-only check of any series, with or without a task: its slices rendered at the
// site (≤ 512 px, no labels), one at a time, relayed by central and stored nowhere. The newest
// request wins; each image is an object URL, released when the next one replaces it.

const SIZE = 512;
let generation = 0;
/** @type {{project: number, site: number, handle: string, images: number} | null} */
let current = null;
let shownUrl = "";

function $(/** @type {string} */ id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/** @param {number} index */
async function show(index) {
  if (!current) return;
  const mine = ++generation;
  const slider = /** @type {HTMLInputElement} */ ($("check-slice"));
  const image = /** @type {HTMLImageElement} */ ($("check-image"));
  slider.value = String(index);
  $("check-position").textContent = `slice ${index + 1} of ${current.images} (loading…)`;
  const { project, site, handle } = current;
  const response = await fetch(`/api/projects/${project}/sites/${site}/series/${handle}/thumbnail`
    + `?index=${index}&size=${SIZE}`, { credentials: "same-origin" });
  if (mine !== generation) return; // the lead moved on
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    $("check-position").textContent = `slice ${index + 1}: ${body?.error?.message ?? response.statusText}`;
    image.dataset.loaded = "failed";
    return;
  }
  const blob = await response.blob();
  if (mine !== generation) return;
  if (shownUrl) URL.revokeObjectURL(shownUrl);
  shownUrl = URL.createObjectURL(blob);
  image.src = shownUrl;
  image.dataset.index = String(index);
  image.dataset.loaded = "yes";
  $("check-position").textContent = `slice ${index + 1} of ${current.images}`;
}

export function setUpCheck() {
  const slider = /** @type {HTMLInputElement} */ ($("check-slice"));
  const step = (/** @type {number} */ by) => {
    if (!current) return;
    const next = Math.min(current.images - 1, Math.max(0, Number(slider.value) + by));
    show(next).catch(() => {});
  };
  $("check-prev").addEventListener("click", () => step(-1));
  $("check-next").addEventListener("click", () => step(1));
  slider.addEventListener("input", () => { show(Number(slider.value)).catch(() => {}); });
  $("check-close").addEventListener("click", () => {
    generation += 1;
    current = null;
    $("browse-check").hidden = true;
  });
}

/**
 * @param {number} project @param {number} site @param {string} handle @param {number} images
 * @param {string} title site and series description, shown as text
 */
export function openCheck(project, site, handle, images, title) {
  current = { project, site, handle, images: Math.max(1, images) };
  const panel = $("browse-check");
  panel.hidden = false;
  panel.dataset.series = handle;
  $("check-title").textContent = `Check: ${title}`;
  const slider = /** @type {HTMLInputElement} */ ($("check-slice"));
  slider.max = String(current.images - 1);
  show(Math.floor(current.images / 2)).catch(() => {});
  panel.scrollIntoView({ block: "nearest" });
}
