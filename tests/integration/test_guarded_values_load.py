"""What the report withholds is not what the warehouse records: an ODS code that reads like a
postcode (M12AE could be M1 2AE) is withheld from every report, and the submission is still
recorded under its own provider code."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mhdeaths import guard
from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate
from mhdeaths.warehouse.loading import load
from mhdeaths.warehouse.pseudonym import demo_key

from ..conftest import LOADABLE, SPEC_ROOT


def test_a_withheld_provider_code_is_recorded_as_sent(tmp_path: Path) -> None:
    spec = load_spec(LOADABLE[-1], SPEC_ROOT)
    generate(
        spec,
        SynthOptions(provider_list=("M12AE",), months=1, start="2027-10", seed=11),
        tmp_path / "in",
    )
    warehouse = tmp_path / "w.duckdb"
    (outcome,) = load(warehouse, [tmp_path / "in"], key=demo_key(), spec_root=SPEC_ROOT)
    assert outcome.status == "loaded", outcome.report.rules
    assert outcome.report.provider == guard.WITHHELD
    assert outcome.report.reporting_period == "2027-10"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT provider, reporting_period FROM submission").fetchall()
    assert rows == [("M12AE", "2027-10")]
