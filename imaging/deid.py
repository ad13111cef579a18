"""De-identification (PS3.15 Annex E basic profile + Clean Descriptors) and a safe summary.

The action table lives in ``deid_table.py``. Here: walking the dataset (nested sequences
included), the default for attributes the table does not name, the cleaning of descriptors,
and the de-identified series summary that may leave the site.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Callable, Iterator

from pydicom._uid_dict import UID_dictionary
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from imaging.attrs import float_list, frames_of, get_value, int_value
from imaging.deid_table import ACTIONS, Action
from imaging.handles import HandleKey

UidMap = Callable[[str], str]

_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "PN", "AE", "CS", "DA", "DT", "TM"})
_FREE_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
_DUMMY = {"PN": "ANONYMOUS", "DA": "19000101", "TM": "000000", "DT": "19000101000000",
          "IS": "0", "DS": "0", "LO": "ANONYMOUS", "SH": "ANONYMOUS", "CS": "ANONYMOUS"}  # fmt: skip
# Date-like and identifier-like runs that cleaning strips from descriptors (E.3.5).
_DATE = re.compile(r"\b\d{4}[-/.]?\d{2}[-/.]?\d{2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b")
_LONG_NUMBER = re.compile(r"\d{5,}")
_EMAIL = re.compile(r"\S+@\S+")
_MIN_PHI_TOKEN = 3
METHOD = "PS3.15 E.1-1 Basic Profile; Clean Descriptors Option"  # LO: ≤ 64 characters


def keyed_uid_map(key: HandleKey | bytes) -> UidMap:
    """Consistent replacement UIDs under 2.25 (PS3.5 B.2), unlinkable without ``key``."""
    keyed = key if isinstance(key, HandleKey) else HandleKey(bytes(key))

    def replace(uid: str) -> str:
        mac = keyed.mac(b"uid:" + uid.encode("ascii", "replace"))
        return f"2.25.{int.from_bytes(mac[:16], 'big')}"

    return replace


def _is_standard_uid(value: str) -> bool:
    # Well-known UIDs (SOP classes, transfer syntaxes, coding schemes) identify nobody.
    return value in UID_dictionary


def _phi_values(ds: Dataset) -> set[str]:
    """Every identifying string the profile removes, to strip from descriptors that stay."""
    found: set[str] = set()
    for elem in _walk(ds):
        action = ACTIONS.get(int(elem.tag))
        if elem.VR in _TEXT_VRS and action in (Action.REMOVE, Action.ZERO, Action.DUMMY):
            for value in _strings(elem):
                found.add(value)
                found.update(part for part in re.split(r"[\^=\s,]+", value))
    return {v.strip() for v in found if len(v.strip()) >= _MIN_PHI_TOKEN}


def _walk(ds: Dataset) -> Iterator[DataElement]:
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or []:
                yield from _walk(item)
        else:
            yield elem


def _strings(elem: DataElement) -> list[str]:
    value = elem.value
    if value is None:
        return []
    # Multi-valued elements hold a MultiValue; a PersonName is one value (not its characters).
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    return [str(v) for v in values if v is not None]


def clean_text(text: str, phi: set[str], *, patterns: bool = True) -> str:
    """Remove known identifying values and, with ``patterns``, dates, long numbers and e-mail
    addresses from a descriptor (E.3.5: replace with values of similar meaning)."""
    for value in sorted(phi, key=len, reverse=True):
        text = re.sub(re.escape(value), "", text, flags=re.IGNORECASE)
    if patterns:
        text = _EMAIL.sub("", text)
        text = _DATE.sub("", text)
        text = _LONG_NUMBER.sub("", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ^,;:-_/")


def _clean_element(elem: DataElement, phi: set[str]) -> None:
    if elem.VR not in _FREE_TEXT_VRS and elem.VR != "PN":
        return
    # Attributes the profile marks C get the full cleaning; text it does not name (codes,
    # manufacturer strings) only loses the identifying values found in this object, so that
    # e.g. a SNOMED Code Value of eight digits survives.
    patterns = ACTIONS.get(int(elem.tag)) is Action.CLEAN
    if isinstance(elem.value, str):
        elem.value = clean_text(elem.value, phi, patterns=patterns)
    elif isinstance(elem.value, list | tuple) or elem.VM > 1:
        elem.value = [clean_text(str(v), phi, patterns=patterns) for v in elem.value]


def _apply(ds: Dataset, uid_map: UidMap, phi: set[str]) -> None:
    for elem in list(ds):
        tag = int(elem.tag)
        group = tag >> 16
        if elem.tag.is_private or 0x5000 <= group <= 0x50FF:
            # Private attributes and curves: X (E.1-1; Retain Safe Private Option not used).
            del ds[elem.tag]
            continue
        if 0x6000 <= group <= 0x60FF and tag & 0xFFFF in (0x3000, 0x4000, 0x0022, 0x1500):
            del ds[elem.tag]  # Overlay Data, Comments, Description, Label: X (E.1-1)
            continue
        action = ACTIONS.get(tag)
        if action is None:
            action = _default_action(elem)
        _act(ds, elem, action, uid_map, phi)


def _default_action(elem: DataElement) -> Action:
    # Not in the table: names are removed wherever they appear, UIDs replaced, the rest kept
    # (and free text cleaned as defence in depth).
    if elem.VR == "PN":
        return Action.REMOVE
    if elem.VR == "UI":
        return Action.UID
    if elem.VR in _FREE_TEXT_VRS:
        return Action.CLEAN
    return Action.KEEP


def _act(ds: Dataset, elem: DataElement, action: Action, uid_map: UidMap, phi: set[str]) -> None:
    if action is Action.REMOVE:
        del ds[elem.tag]
    elif action is Action.ZERO:
        elem.value = Sequence() if elem.VR == "SQ" else None
    elif action is Action.DUMMY:
        if elem.VR == "SQ":
            elem.value = Sequence()
        elif elem.VR == "UI":
            elem.value = uid_map(str(elem.value))
        else:
            elem.value = _DUMMY.get(elem.VR)
    elif action is Action.UID:
        if elem.VR == "SQ":
            _recurse(elem, uid_map, phi)
        elif elem.value:
            mapped = [v if _is_standard_uid(v) else uid_map(v) for v in _strings(elem)]
            elem.value = mapped if len(mapped) > 1 else mapped[0]
    elif elem.VR == "SQ":
        _recurse(elem, uid_map, phi)
    elif action is Action.CLEAN:
        _clean_element(elem, phi)


def _recurse(elem: DataElement, uid_map: UidMap, phi: set[str]) -> None:
    for item in elem.value or []:
        _apply(item, uid_map, phi)


def deidentify(ds: Dataset, *, uid_map: UidMap | None = None) -> Dataset:
    """A de-identified deep copy of ``ds``; ``uid_map`` replaces UIDs (default: random key)."""
    out = copy.deepcopy(ds)
    mapper = uid_map or keyed_uid_map(secrets.token_bytes(32))
    phi = _phi_values(out)
    _apply(out, mapper, phi)
    meta = getattr(out, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        # File meta (PS3.10 7.1) names software, not people: only the instance UID changes.
        meta.MediaStorageSOPInstanceUID = mapper(str(meta.MediaStorageSOPInstanceUID))
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = METHOD
    out.DeidentificationMethodCodeSequence = Sequence(
        [
            _code("113100", "Basic Application Confidentiality Profile"),
            _code("113105", "Clean Descriptors Option"),
        ]
    )
    return out


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _window(ds: Dataset) -> dict[str, float] | None:
    from imaging.frame_attrs import frame_attributes  # local: frame_attrs imports much of numpy

    try:
        windows = frame_attributes(ds, 0).windows
    except Exception:  # a summary never fails on a malformed VOI attribute
        return None
    return windows[0].to_json() if windows else None


def series_summary(ds: Dataset, *, frames: int | None = None) -> dict[str, object]:
    """De-identified facts about the series of ``ds``: safe to send off site (JSON-safe)."""
    phi = _phi_values(ds)
    spacing = float_list(ds, "PixelSpacing")
    thickness = float_list(ds, "SliceThickness")
    raw_description = get_value(ds, "SeriesDescription")
    description = clean_text(str(raw_description), phi) if raw_description else None
    body_part = get_value(ds, "BodyPartExamined")
    modality = get_value(ds, "Modality")
    photometric = get_value(ds, "PhotometricInterpretation")
    try:
        frame_total = frames if frames is not None else frames_of(ds)
    except Exception:
        frame_total = None
    burned_in = get_value(ds, "BurnedInAnnotation")
    return {
        "modality": str(modality) if modality else None,
        "rows": _safe_int(ds, "Rows"),
        "columns": _safe_int(ds, "Columns"),
        "frames": frame_total,
        "pixel_spacing": spacing[:2] if spacing and len(spacing) >= 2 else None,
        "slice_thickness": thickness[0] if thickness else None,
        "default_window": _window(ds),
        "body_part": clean_text(str(body_part), phi) if body_part else None,
        "series_description": description or None,
        "photometric": str(photometric) if photometric else None,
        "bits_stored": _safe_int(ds, "BitsStored"),
        "burned_in_annotation": str(burned_in).upper() == "YES" if burned_in else None,
        "sop_class": _sop_class_name(ds),
    }


def _safe_int(ds: Dataset, keyword: str) -> int | None:
    try:
        return int_value(ds, keyword)
    except Exception:
        return None


def _sop_class_name(ds: Dataset) -> str | None:
    uid = get_value(ds, "SOPClassUID")
    if uid is None:
        return None
    entry = UID_dictionary.get(str(uid))
    return entry[0] if entry else None


__all__ = ["clean_text", "deidentify", "keyed_uid_map", "keyword_for_tag", "series_summary"]
