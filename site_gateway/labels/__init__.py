"""Labels at the site: validate, store durably, write back to the PACS as DICOM, read back.

``document`` parses and validates what the viewer sends; ``store`` and ``outbox`` keep revisions and
the objects to deliver in one SQLite database (WAL, ``synchronous=FULL``); ``builder`` turns a
revision into SR/SEG/KOS with ``imaging.dicom_out``; ``delivery`` stores them in the PACS with
retries; ``readback`` serves ``label.load``; ``service`` plugs all of it into the sessions.
See docs/writeback.md.
"""

from site_gateway.labels.document import LabelInvalidError, LabelLimits
from site_gateway.labels.store import LabelConflictError, LabelStore

__all__ = ["LabelConflictError", "LabelInvalidError", "LabelLimits", "LabelStore"]
