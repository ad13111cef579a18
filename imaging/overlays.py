"""Overlay Planes (60xx, PS3.3 C.9.2) as image-aligned boolean masks, for optional burn-in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

_MAX_OVERLAY_GROUPS = 16  # 6000…601E, even groups only (PS3.3 C.9.2)


@dataclass(frozen=True, slots=True, eq=False)
class Overlay:
    mask: npt.NDArray[np.bool_]


def overlays_of(ds: Dataset, rows: int, columns: int) -> tuple[Overlay, ...]:
    """Graphic overlays of the first overlay frame, placed at their Overlay Origin."""
    found: list[Overlay] = []
    for n in range(_MAX_OVERLAY_GROUPS):
        group = 0x6000 + 2 * n
        if (group << 16 | 0x3000) not in ds:
            continue
        try:
            data = np.asarray(ds.overlay_array(group), dtype=bool)
            origin = ds.get((group << 16) | 0x0050)
            r0, c0 = (int(origin.value[0]) - 1, int(origin.value[1]) - 1) if origin else (0, 0)
        except Exception:  # noqa: S112 (a malformed overlay is dropped, never fatal to the image)
            continue
        if data.ndim == 3:
            data = data[0]
        if data.ndim != 2:
            continue
        mask = np.zeros((rows, columns), dtype=bool)
        # Overlay Origin is 1-based and may lie partly outside the image.
        rs, cs = max(r0, 0), max(c0, 0)
        re, ce = min(r0 + data.shape[0], rows), min(c0 + data.shape[1], columns)
        if rs < re and cs < ce:
            mask[rs:re, cs:ce] = data[rs - r0 : re - r0, cs - c0 : ce - c0]
            found.append(Overlay(mask=mask))
    return tuple(found)
