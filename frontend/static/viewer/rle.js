// Run-length coding of binary masks for label documents: row-major runs that alternate
// background, foreground, background, … and start with a (possibly zero) background run.

/** @param {Uint8Array} data 0/1 per pixel, row-major @returns {number[]} */
export function rleEncode(data) {
  const runs = [];
  let current = 0;
  let run = 0;
  for (let i = 0; i < data.length; i += 1) {
    const bit = data[i] ? 1 : 0;
    if (bit === current) run += 1;
    else {
      runs.push(run);
      current = bit;
      run = 1;
    }
  }
  runs.push(run);
  return runs;
}

/** @param {number[]} runs @param {number} length @returns {Uint8Array} */
export function rleDecode(runs, length) {
  const data = new Uint8Array(length);
  let at = 0;
  runs.forEach((run, i) => {
    if (i % 2 === 1) data.fill(1, at, Math.min(length, at + run));
    at += run;
  });
  return data;
}
