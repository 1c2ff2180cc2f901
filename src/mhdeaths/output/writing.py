"""Writing the files people open: JSON, text with fixed line endings, cells a spreadsheet won't run.

Published spec artefacts, validation reports and benchmark outputs are compared byte for byte
across runs and platforms (manifest checksums, the demo's reproducibility), and are opened in
Excel by people who did not write them; these helpers make both hold in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# A cell starting with one of these is a formula to Excel (or to LibreOffice, or Google Sheets).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def excel_safe(value: object) -> str:
    """A value as CSV text that a spreadsheet will never run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def dump_json(document: Any) -> str:
    # Insertion order is kept (not sorted) so each file reads top-down like its standard's
    # examples; the output is still stable because every document is built in spec order.
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Always "\n": the manifest's checksums must not depend on the platform that published.
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
