"""Resource caps, checked before anything large is allocated."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds for one object. The defaults fit the largest real radiographs and cine loops."""

    max_bytes: int = 1 << 30
    max_inflated_bytes: int = 1 << 30
    max_pixels: int = 1 << 30  # Rows × Columns × Samples per Pixel × Number of Frames
    max_frames: int = 10_000


DEFAULT_LIMITS = Limits()
