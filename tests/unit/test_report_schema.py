"""The JSON report's schema is documented (docs/reference/report.schema.json) and kept current."""

from __future__ import annotations

import json
from pathlib import Path

from mhdeaths.validate.report import REPORT_SCHEMA_VERSION, Report

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "report.schema.json"


def test_the_documented_report_schema_is_current() -> None:
    documented = json.loads(DOC.read_text(encoding="utf-8"))
    assert documented == Report.model_json_schema(), (
        "The report's schema changed: regenerate docs/reference/report.schema.json "
        "(see docs/validator.md) and bump REPORT_SCHEMA_VERSION if a field was removed or renamed."
    )


def test_the_report_carries_its_schema_version() -> None:
    assert Report.model_fields["schema_version"].default == REPORT_SCHEMA_VERSION
