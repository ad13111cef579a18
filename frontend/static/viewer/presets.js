// Window presets per modality on the number keys; the project's own presets (Project.viewer_presets,
// {"CT": [{name, center, width}, …]}) replace the defaults for that modality.

/** @typedef {{name:string, center:number, width:number}} Preset */

/** @type {Readonly<Record<string, Preset[]>>} */
export const DEFAULT_PRESETS = Object.freeze({
  CT: [
    { name: "Brain", center: 40, width: 80 },
    { name: "Lung", center: -600, width: 1500 },
    { name: "Bone", center: 400, width: 1800 },
    { name: "Abdomen", center: 40, width: 400 },
    { name: "Mediastinum", center: 50, width: 350 },
  ],
});

/**
 * @param {string} modality @param {Record<string, Preset[]>} project
 * @returns {Preset[]} the presets for keys 1…9 (0 is the object's default window)
 */
export function presetsFor(modality, project) {
  const own = project?.[modality];
  if (Array.isArray(own) && own.length) return own.slice(0, 9);
  return (DEFAULT_PRESETS[modality] ?? []).slice(0, 9);
}
