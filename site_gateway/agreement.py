"""Agreement between the readers of one series, computed at the site: numbers only leave it.

For the tasks named (each one reader's work on the same series), the newest label revision of
each task is read from the label store. Regions (rectangle, ellipse, polygon, freehand) and brush
masks are rasterized per frame and label; Dice = 2|A∩B| / (|A|+|B|) over all frames of the series,
per label and pair of readers. Classifications are compared per target (a frame for image-level,
the series or the study): the category of a reader at a target is the set of classification labels
given there; ``agreement`` is the fraction of targets where the two readers agree, and Cohen's kappa
corrects it for chance (two readers).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from site_gateway.labels.records import LabelRecord, decode_mask
from site_gateway.labels.store import LabelStore, task_subject
from site_gateway.protocol import ErrorCode

MAX_TASKS: Final = 10
MAX_CANVAS: Final = 8192
_REGIONS: Final = frozenset({"rectangle", "ellipse", "polygon", "freehand"})


class AgreementError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Areas = dict[tuple[str, int], npt.NDArray[np.bool_]]  # (label, frame index) → pixels


def _canvas(records: Sequence[LabelRecord]) -> tuple[int, int]:
    rows = columns = 1
    for record in records:
        if record.mask is not None:
            rows, columns = max(rows, record.mask["rows"]), max(columns, record.mask["columns"])
        for x, y in record.points:
            columns, rows = max(columns, math.ceil(x) + 1), max(rows, math.ceil(y) + 1)
    return min(rows, MAX_CANVAS), min(columns, MAX_CANVAS)


def _areas(records: Sequence[LabelRecord], shape: tuple[int, int]) -> Areas:
    rows, columns = shape
    areas: Areas = {}
    for record in records:
        if record.frame is None or (record.tool not in _REGIONS and record.mask is None):
            continue
        key = (record.label, int(record.frame.get("index", 0)))
        target = areas.setdefault(key, np.zeros(shape, dtype=np.bool_))
        if record.mask is not None:
            pixels = decode_mask(record.mask)
            h, w = min(rows, pixels.shape[0]), min(columns, pixels.shape[1])
            target[:h, :w] |= pixels[:h, :w]
            continue
        image = Image.new("1", (columns, rows), 0)
        draw = ImageDraw.Draw(image)
        points = [(float(x), float(y)) for x, y in record.points]
        if record.tool == "rectangle":
            (x0, y0), (x1, y1) = points
            draw.rectangle((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), fill=1)
        elif record.tool == "ellipse":
            (x0, y0), (x1, y1) = points
            draw.ellipse((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), fill=1)
        else:
            draw.polygon(points, fill=1)
        target |= np.asarray(image, dtype=np.bool_)
    return areas


def dice(a: Areas, b: Areas, label: str) -> float | None:
    """Volume Dice of one label over every frame; None if neither reader drew it."""
    frames = {f for (lab, f) in a if lab == label} | {f for (lab, f) in b if lab == label}
    both = total = 0
    for frame in frames:
        pa, pb = a.get((label, frame)), b.get((label, frame))
        if pa is not None and pb is not None:
            both += int(np.count_nonzero(pa & pb))
        total += int(np.count_nonzero(pa)) if pa is not None else 0
        total += int(np.count_nonzero(pb)) if pb is not None else 0
    return None if total == 0 else round(2 * both / total, 4)


def _categories(records: Sequence[LabelRecord]) -> dict[tuple[str, int | None], str]:
    found: dict[tuple[str, int | None], set[str]] = {}
    for record in records:
        if record.tool != "classification":
            continue
        level = record.level or "image"
        index = int(record.frame.get("index", 0)) if level == "image" and record.frame else None
        found.setdefault((level, index), set()).add(record.label)
    return {target: "+".join(sorted(labels)) for target, labels in found.items()}


def classification_agreement(
    a: Sequence[LabelRecord], b: Sequence[LabelRecord]
) -> dict[str, Any] | None:
    ca, cb = _categories(a), _categories(b)
    targets = sorted(set(ca) | set(cb), key=lambda t: (t[0], -1 if t[1] is None else t[1]))
    if not targets:
        return None
    pairs = [(ca.get(t, ""), cb.get(t, "")) for t in targets]
    observed = sum(x == y for x, y in pairs) / len(pairs)
    count_a, count_b = Counter(x for x, _ in pairs), Counter(y for _, y in pairs)
    expected = sum(count_a[c] * count_b[c] for c in count_a) / len(pairs) ** 2
    kappa = None if expected >= 1 else round((observed - expected) / (1 - expected), 4)
    return {"targets": len(pairs), "agreement": round(observed, 4), "kappa": kappa}


def agreement_for(store: LabelStore, *, project: str, tasks: object) -> dict[str, Any]:
    """Dice per label and pair of readers, and classification agreement, for ``tasks``."""
    if (
        not isinstance(tasks, list)
        or not 2 <= len(tasks) <= MAX_TASKS
        or not all(isinstance(t, int) and not isinstance(t, bool) and t > 0 for t in tasks)
        or len(set(tasks)) != len(tasks)
    ):
        raise AgreementError(
            ErrorCode.BAD_MESSAGE, f"tasks is a list of 2…{MAX_TASKS} distinct task ids"
        )
    documents: dict[int, tuple[LabelRecord, ...]] = {}
    for task in tasks:
        revision = store.latest(task_subject(task))
        if revision is None or revision.project != project:
            documents[task] = ()  # nothing saved (or another project's): counts as no labels
            continue
        documents[task] = revision.records
    series_uids = {r.series_uid for records in documents.values() for r in records}
    if len(series_uids) > 1:
        raise AgreementError(ErrorCode.BAD_MESSAGE, "the tasks do not read the same series")
    everything = [r for records in documents.values() for r in records]
    shape = _canvas(everything)
    areas = {task: _areas(records, shape) for task, records in documents.items()}
    labels = sorted({label for a in areas.values() for (label, _) in a})
    pairs = []
    for first, second in itertools.combinations(tasks, 2):
        pairs.append(
            {
                "tasks": [first, second],
                "dice": {label: dice(areas[first], areas[second], label) for label in labels},
                "classification": classification_agreement(documents[first], documents[second]),
            }
        )
    return {
        "readers": [{"task": t, "labels": len(documents[t])} for t in tasks],
        "pairs": pairs,
    }


MAX_COUNT_TASKS: Final = 500


def label_counts(store: LabelStore, *, project: str, tasks: object) -> dict[str, Any]:
    """How many labels of each label key every task's newest revision holds (the lead's
    progress board, per label): numbers only. A task without labels here, or another
    project's, counts nothing (``{}``) — the site never says which."""
    if (
        not isinstance(tasks, list)
        or not 1 <= len(tasks) <= MAX_COUNT_TASKS
        or not all(isinstance(t, int) and not isinstance(t, bool) and t > 0 for t in tasks)
        or len(set(tasks)) != len(tasks)
    ):
        raise AgreementError(
            ErrorCode.BAD_MESSAGE, f"tasks is a list of 1…{MAX_COUNT_TASKS} distinct task ids"
        )
    counted = []
    for task in tasks:
        revision = store.latest(task_subject(task))
        records = revision.records if revision is not None and revision.project == project else ()
        counted.append(
            {"task": task, "labels": dict(sorted(Counter(r.label for r in records).items()))}
        )
    return {"tasks": counted}
