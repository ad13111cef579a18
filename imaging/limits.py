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
    # Data elements, nested ones included: an enhanced MR of 5000 frames has ≈ 300 000. Parsing
    # costs pydicom ≈ 17 µs and ≈ 0.5 KiB per element, so an "element bomb" (a file of millions
    # of empty elements) is refused before it is parsed.
    max_elements: int = 1 << 20


DEFAULT_LIMITS = Limits()
