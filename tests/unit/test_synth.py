"""The synthetic submissions: valid by default, reproducible, plausible, with known errors and outliers.

The rules are evaluated with the polars engine exactly as a validator would (text frame, typed and
derived frame, each rule at its scope), so a generated record that breaks any rule of the spec fails
a test here, and so does a planted error that its rule does not find.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import nhs_number
import polars as pl
import pytest
import yaml

from mhdeaths.engines import polars_engine as engine
from mhdeaths.errors import UserError
from mhdeaths.periods import period_start
from mhdeaths.spec import Scope, Severity, Spec, load_spec
from mhdeaths.synth import SynthOptions, SynthResult, generate, provider_codes
from mhdeaths.synth.oversight import BLACK_RATE_RATIO, ethnic_crosswalks, ethnic_group_of

COUNTS = [
    "admissions",
    "discharges_live",
    "deaths_in_spell",
    "occupied_bed_days",
    "leave_days",
    "awol_days",
    "detained_bed_days",
    "open_spells_end",
    "distinct_patients",
]


@dataclass(frozen=True)
class Finding:
    file: Path
    rule_id: str
    row: int | None
    """1-based data row for a record rule; None for a table or cross-table rule."""


def evaluate(spec: Spec, files: list[Path]) -> list[Finding]:
    """Every finding of every rule of the spec on the files, as a validator would report them.

    Files of one reporting period are evaluated together (record and cross-table rules work per
    record and per provider-month, and codes are valid per period); table rules file by file.
    Structure rules (columns present, known, once) need no frame: every file's header is the
    table's submitted fields, which the layout test checks.
    """
    by_period: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for path in files:
        _, period, table = path.stem.split("_", 2)
        by_period[period][table].append(path)
    findings: list[Finding] = []
    for period, tables in sorted(by_period.items()):
        day = period_start(period)
        typed_frames: dict[str, pl.DataFrame] = {}
        for table in spec.tables:
            name = table.name
            paths = tables.get(name, [])
            # A month in which nobody died anywhere has no death file at all, and one with no
            # reviews no review file (an optional table left out has no records).
            parts = [
                engine.text_frame(table, []).with_columns(
                    _file=pl.lit(""), _row=pl.lit(0, dtype=pl.Int64)
                )
            ]
            for path in paths:
                text = pl.read_csv(path, infer_schema=False)
                typed = engine.derive(spec, name, engine.to_typed(table, text))
                for rule in spec.rules_for(name):
                    if rule.scope is Scope.TABLE and engine.table_fails(spec, rule, typed, day):
                        findings.append(Finding(path, rule.id, None))
                parts.append(
                    text.with_columns(
                        pl.lit(str(path)).alias("_file"),
                        pl.int_range(1, text.height + 1, dtype=pl.Int64).alias("_row"),
                    )
                )
            text = pl.concat(parts)
            typed = engine.derive(spec, name, engine.to_typed(table, text))
            typed_frames[name] = typed
            for rule in spec.rules_for(name):
                # Information findings are notes, not problems: a clean set may carry them (a
                # death outside the reporting obligation is accepted with one).
                if rule.scope is not Scope.RECORD or rule.severity is Severity.INFO:
                    continue
                fails = engine.record_failures(spec, rule, text, typed, day)
                for file, row in text.filter(fails).select("_file", "_row").iter_rows():
                    findings.append(Finding(Path(file), rule.id, row))
        for rule in spec.rules:
            if rule.scope is Scope.CROSS_TABLE:
                groups = engine.cross_table_failures(spec, rule, typed_frames, day)
                if "reporting_period" not in groups.columns:  # grouped by death, in this period
                    groups = groups.with_columns(reporting_period=pl.lit(period))
                for ods, group_period in groups.select(
                    "org_id_provider", "reporting_period"
                ).iter_rows():
                    path = (
                        tables["activity"][0].parents[1]
                        / ods
                        / f"{ods}_{group_period}_activity.csv"
                    )
                    findings.append(Finding(path, rule.id, None))
    return findings


def read_all(result: SynthResult, table: str) -> pl.DataFrame:
    files = [f for f in result.files if f.stem.endswith(f"_{table}")]
    return pl.concat([pl.read_csv(f, infer_schema=False) for f in files])


def typed_deaths(spec: Spec, result: SynthResult) -> pl.DataFrame:
    death = spec.table("death")
    return engine.derive(spec, "death", engine.to_typed(death, read_all(result, "death")))


def monthly_activity(result: SynthResult) -> pl.DataFrame:
    activity = read_all(result, "activity").with_columns(pl.col(COUNTS).cast(pl.Int64))
    return activity.group_by("org_id_provider", "reporting_period").agg(pl.col(COUNTS).sum())


# --- Providers and files -------------------------------------------------------------------------


def test_provider_codes_are_stable_distinct_and_shaped_like_ods_codes() -> None:
    codes = provider_codes(80)
    assert codes[:3] == ["RZ1", "RZ2", "RZ3"]
    assert provider_codes(5) == codes[:5]
    assert len(set(codes)) == 80
    assert all(len(c) == 3 and c.isalnum() and c.isupper() for c in codes)


def test_too_many_providers_is_a_user_error() -> None:
    with pytest.raises(UserError, match="providers"):
        provider_codes(100_000)


def test_each_provider_month_gets_an_activity_file_and_a_death_file_if_anyone_died(
    spec_v1: Spec, tmp_path: Path
) -> None:
    result = generate(spec_v1, SynthOptions(providers=3, months=4, start="2027-11"), tmp_path)
    names = {f.relative_to(tmp_path).as_posix() for f in result.files}
    assert {n for n in names if n.endswith("_activity.csv")} == {
        f"{ods}/{ods}_{period}_activity.csv"
        for ods in ("RZ1", "RZ2", "RZ3")
        for period in ("2027-11", "2027-12", "2028-01", "2028-02")
    }
    deaths = read_all(result, "death")
    died = set(zip(deaths["org_id_provider"], deaths["reporting_period"], strict=True))
    assert {n for n in names if n.endswith("_death.csv")} == {
        f"{ods}/{ods}_{period}_death.csv" for ods, period in died
    }
    assert 0 < len(died) < 12, "expected some months with deaths and some without"
    assert len(names) == len(result.files) and all(f.is_file() for f in result.files)
    for path in result.files:
        table = path.stem.split("_", 2)[2]
        lines = path.read_text("utf-8").splitlines()
        assert lines[0].split(",") == [f.name for f in spec_v1.table(table).submitted_fields]
        assert len(lines) > 1


def test_the_same_options_write_byte_identical_files(spec_v1: Spec, tmp_path: Path) -> None:
    options = SynthOptions(providers=3, months=3, seed=7, error_rate=0.3, outliers=("RZ2",))
    first = generate(spec_v1, options, tmp_path / "a")
    second = generate(spec_v1, options, tmp_path / "b")
    assert [f.relative_to(tmp_path / "a") for f in first.files] == [
        f.relative_to(tmp_path / "b") for f in second.files
    ]
    for a, b in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert [(e.file.name, e.row_number, e.rule_id) for e in first.planted_errors] == [
        (e.file.name, e.row_number, e.rule_id) for e in second.planted_errors
    ]


def test_another_seed_writes_other_files(spec_v1: Spec, tmp_path: Path) -> None:
    first = generate(spec_v1, SynthOptions(providers=2, months=2, seed=1), tmp_path / "a")
    second = generate(spec_v1, SynthOptions(providers=2, months=2, seed=2), tmp_path / "b")
    assert [f.read_bytes() for f in first.files] != [f.read_bytes() for f in second.files]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (SynthOptions(outliers=("RQQ",)), "Outlier RQQ"),
        (SynthOptions(error_rate=1.5), "error rate"),
        (SynthOptions(start="2027-13"), "reporting period"),
        (SynthOptions(months=0), "at least one"),
    ],
)
def test_bad_options_are_user_errors(
    spec_v1: Spec, tmp_path: Path, options: SynthOptions, words: str
) -> None:
    with pytest.raises(UserError, match=words):
        generate(spec_v1, options, tmp_path)


# --- Valid by default ------------------------------------------------------------------------------


def test_a_clean_set_passes_every_rule_of_each_spec_version(any_spec: Spec, tmp_path: Path) -> None:
    result = generate(any_spec, SynthOptions(providers=3, months=3), tmp_path)
    assert evaluate(any_spec, result.files) == []
    deaths = typed_deaths(any_spec, result)
    assert set(deaths["spec_version"]) == {any_spec.version}
    assert {"IPD", "D30"} <= set(deaths["death_category"])


def test_a_larger_clean_set_covers_every_category_and_status_and_passes_every_rule(
    spec_latest: Spec, tmp_path: Path
) -> None:
    result = generate(spec_latest, SynthOptions(providers=12, months=12, seed=3), tmp_path)
    assert evaluate(spec_latest, result.files) == []
    deaths = typed_deaths(spec_latest, result)
    assert set(deaths["death_category"]) == {"IPD", "D30", "AWA", "OOS"}
    assert set(deaths["patient_status_at_death"]) >= {f"0{n}" for n in range(1, 9)}
    # Deaths on leave, absent without leave or in an acute hospital are still inpatient deaths.
    ipd = deaths.filter(pl.col("death_category") == "IPD")
    assert set(ipd["patient_status_at_death"]) == {"01", "02", "03", "04", "05", "06"}
    assert (ipd.filter(pl.col("patient_status_at_death") == "01").height / ipd.height) > 0.55
    d30 = deaths.filter(pl.col("death_category") == "D30")
    assert d30["days_discharge_to_death"].min() == 0
    assert d30["days_discharge_to_death"].max() == 30
    causes = deaths["underlying_cause_icd10"].drop_nulls()
    assert causes.str.contains(r"\.").any()
    assert causes.str.contains(r"^[A-Z][0-9]{2}[0-9X]$").any()
    # From 2.0.0 reviews are records of their own table.
    reviewed = deaths if "review_completed_date" in deaths.columns else read_all(result, "review")
    assert set(deaths["inquest_conclusion"].drop_nulls())
    assert reviewed["review_completed_date"].drop_nulls().len() > 0
    ages = deaths["age_at_death"].to_list()
    assert min(ages) >= 18 and max(ages) <= 97
    assert sum(18 <= age <= 95 for age in ages) / len(ages) > 0.95


def test_spec_2_reviews_follow_the_screening_of_their_deaths(tmp_path: Path) -> None:
    spec = load_spec("2.0.0")
    result = generate(spec, SynthOptions(providers=6, months=6, seed=4), tmp_path)
    assert evaluate(spec, result.files) == []
    deaths = typed_deaths(spec, result)
    review = spec.table("review")
    reviews = engine.derive(spec, "review", engine.to_typed(review, read_all(result, "review")))
    key = ["org_id_provider", "death_record_id"]
    reviewed = {tuple(k) for k in reviews.select(key).iter_rows()}
    screened_in = {
        tuple(k) for k in deaths.filter(pl.col("review_required") == "Y").select(key).iter_rows()
    }
    # Every review is of a death in the files; every death screened in has one, no other does.
    assert reviewed == screened_in
    # Deaths meeting a national red flag are screened in; others are screened every way.
    assert set(deaths.filter(pl.col("review_expected"))["review_required"]) == {"Y"}
    assert set(deaths.filter(~pl.col("review_expected"))["review_required"]) >= {"Y", "N"}
    assert reviews["review_id"].n_unique() == reviews.height
    by_kind = dict(
        reviews.group_by("review_kind")
        .agg(pl.col("problems_in_care_judgement").unique().sort())
        .iter_rows()
    )
    # Learning responses never judge avoidability; case record reviews always can.
    assert by_kind["PSIRF"] == ["X"]
    assert "X" not in by_kind["CRR"] and {"Y", "N", "P"} <= set(by_kind["CRR"])
    assert 0 < reviews["review_completed_date"].null_count() < reviews.height
    # Some deaths are both investigated and reviewed.
    assert reviews.group_by(key).len()["len"].max() == 2
    # A review file comes only with its deaths' file (none when no death is reviewed).
    months = {f.stem.rsplit("_", 1)[0] for f in result.files if f.stem.endswith("_death")}
    with_reviews = {f.stem.rsplit("_", 1)[0] for f in result.files if f.stem.endswith("_review")}
    assert with_reviews <= months


def test_spec_2_pfd_addressees_come_with_the_report_on_their_death(tmp_path: Path) -> None:
    spec = load_spec("2.0.0")
    options = SynthOptions(providers=6, months=12, seed=2, resubmissions=1.0)
    result = generate(spec, options, tmp_path)
    files = [f for f in result.files if f.stem.endswith("_pfd_addressee")]
    assert files
    for path in files:
        # A submission's addressees name reports its death records say were issued.
        month = path.stem.split("_")[:2]
        submission = [
            p for p in result.files if p.parent == path.parent and p.stem.split("_")[:2] == month
        ]
        assert evaluate(spec, submission) == [], path
        deaths = pl.read_csv(path.with_name(path.name.replace("_pfd_addressee", "_death")))
        addressees = pl.read_csv(path, infer_schema=False)
        joined = addressees.join(
            deaths.select("death_record_id", "pfd_report_issued", "pfd_reference", "pfd_date"),
            on="death_record_id",
            suffix="_death",
        )
        assert joined.height == addressees.height
        assert set(joined["pfd_report_issued"]) == {"Y"}
        assert (joined["pfd_reference"] == joined["pfd_reference_death"]).all()
        assert (joined["pfd_date"] == joined["pfd_date_death"]).all()
        # The provider itself is the first addressee of each report, and has responded.
        own = addressees.filter(pl.col("addressee_id") == "1")
        assert set(own["addressee_type"]) == {"P"}
        assert (own["addressee_ods"] == own["org_id_provider"]).all()
        assert own["response_sent_date"].null_count() == 0


def test_a_later_version_s_new_fields_are_filled(tmp_path: Path, spec_root: Path) -> None:
    root = tmp_path / "spec"
    shutil.copytree(spec_root / "1.0.0", root / "9.0.0")
    version_file = root / "9.0.0" / "version.yaml"
    version_file.write_text(version_file.read_text().replace("1.0.0", "9.0.0", 1))
    new_fields = {
        "death": [
            {"name": "welfare_check", "type": "code", "format": "an1", "mandation": "mandatory",
             "code_list": "yes_no_unknown"},
            {"name": "pfd_date", "type": "date", "format": "an10 CCYY-MM-DD", "mandation": "optional"},
        ],
        "activity": [
            {"name": "seclusion_hours", "type": "integer", "format": "max n7", "mandation": "required",
             "minimum": 0, "maximum": 100000},
        ],
    }  # fmt: skip
    for table, added in new_fields.items():
        path = root / "9.0.0" / "tables" / f"{table}.yaml"
        doc = yaml.safe_load(path.read_text())
        doc["fields"] += [
            {"title": f["name"], "definition": "Added.", "source": "test", "since": "9.0.0", **f}
            for f in added
        ]
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    spec = load_spec("9.0.0", root)

    result = generate(spec, SynthOptions(providers=2, months=2), tmp_path / "out")

    assert evaluate(spec, result.files) == []
    deaths = read_all(result, "death")
    assert set(deaths["spec_version"]) == {"9.0.0"}
    assert deaths["welfare_check"].null_count() == 0
    assert read_all(result, "activity")["seclusion_hours"].null_count() == 0


# --- Activity ------------------------------------------------------------------------------------


def test_deaths_in_spell_equal_the_inpatient_deaths_of_each_provider_month(
    spec_v1: Spec, tmp_path: Path
) -> None:
    result = generate(spec_v1, SynthOptions(providers=6, months=6, seed=5), tmp_path)
    deaths = (
        typed_deaths(spec_v1, result)
        .filter(pl.col("inpatient_death") & (pl.col("record_action") != "D"))
        .group_by("org_id_provider", "reporting_period")
        .len("ipd")
    )
    joined = monthly_activity(result).join(
        deaths, on=["org_id_provider", "reporting_period"], how="left"
    )
    assert joined.height == 36
    assert joined["ipd"].fill_null(0).to_list() == joined["deaths_in_spell"].to_list()
    assert joined["ipd"].sum() > 0


def test_activity_is_on_a_national_scale_with_every_stratum(spec_v1: Spec, tmp_path: Path) -> None:
    result = generate(spec_v1, SynthOptions(providers=10, months=12, seed=11), tmp_path)
    monthly = monthly_activity(result)
    bed_days = monthly["occupied_bed_days"].to_list()
    assert min(bed_days) >= 7_500 and max(bed_days) <= 22_000
    for count in ("admissions", "discharges_live"):
        values = monthly[count].to_list()
        assert 150 <= sum(values) / len(values) <= 400
    # Sizes vary between providers.
    sizes = monthly.group_by("org_id_provider").agg(pl.col("occupied_bed_days").mean())
    mean_sizes = sizes["occupied_bed_days"].to_list()
    assert max(mean_sizes) > 1.3 * min(mean_sizes)
    totals = monthly.sum()
    bed_days_per_death = totals["occupied_bed_days"][0] / totals["deaths_in_spell"][0]
    assert 20_000 <= bed_days_per_death <= 50_000
    deaths = typed_deaths(spec_v1, result)
    d30_per_1000 = 1000 * (deaths["death_category"] == "D30").sum() / totals["discharges_live"][0]
    assert 2.5 <= d30_per_1000 <= 7.5
    activity = read_all(result, "activity")
    strata = activity.group_by("org_id_provider", "reporting_period").agg(
        pl.struct("age_band", "stated_gender").n_unique().alias("n"),
        (pl.col("stated_gender") != "X").sum().alias("binary"),
    )
    assert strata["binary"].to_list() == [18] * 120
    assert "X" in set(activity["stated_gender"])
    adults = activity.filter(
        pl.col("age_band").is_in(["18-24", "25-34", "35-44", "45-54", "55-64"])
    )
    share = (
        adults["occupied_bed_days"].cast(pl.Int64).sum()
        / activity["occupied_bed_days"].cast(pl.Int64).sum()
    )
    assert 0.6 <= share <= 0.85


# --- Outliers ------------------------------------------------------------------------------------


def test_an_outlier_provider_has_raised_death_rates_but_normal_denominators(
    spec_v1: Spec, tmp_path: Path
) -> None:
    options = SynthOptions(providers=5, months=24, seed=2, outliers=("RZ3",))
    result = generate(spec_v1, options, tmp_path)
    deaths = (
        typed_deaths(spec_v1, result)
        .group_by("org_id_provider")
        .agg(
            (pl.col("death_category") == "IPD").sum().alias("ipd"),
            (pl.col("death_category") == "D30").sum().alias("d30"),
        )
    )
    rates = (
        monthly_activity(result)
        .group_by("org_id_provider")
        .agg(pl.col("occupied_bed_days", "discharges_live").sum())
        .join(deaths, on="org_id_provider")
        .with_columns(pl.col("org_id_provider") == "RZ3")
        .rename({"org_id_provider": "outlier"})
        .group_by("outlier")
        .agg(pl.all().sum())
        .with_columns(
            (pl.col("ipd") / pl.col("occupied_bed_days")).alias("ipd_rate"),
            (pl.col("d30") / pl.col("discharges_live")).alias("d30_rate"),
            pl.col("occupied_bed_days") / pl.when(pl.col("outlier")).then(24).otherwise(96),
        )
        .sort("outlier")
    )
    others, outlier = rates.row(0, named=True), rates.row(1, named=True)
    assert outlier["ipd_rate"] > 1.6 * others["ipd_rate"]
    assert outlier["d30_rate"] > 1.6 * others["d30_rate"]
    assert 8_000 <= outlier["occupied_bed_days"] <= 20_000


# --- Identifiers ---------------------------------------------------------------------------------


def test_nhs_numbers_are_valid_synthetic_and_unique(spec_v1: Spec, tmp_path: Path) -> None:
    result = generate(spec_v1, SynthOptions(providers=10, months=12, seed=4), tmp_path)
    deaths = read_all(result, "death")
    numbers = deaths["nhs_number"].to_list()
    assert len(numbers) > 100
    assert all(nhs_number.is_valid(n) for n in numbers)
    ranges = nhs_number.REGION_SYNTHETIC.ranges
    assert all(any(r.start <= int(n) <= r.end for r in ranges) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    keys = deaths.select("org_id_provider", "death_record_id")
    assert keys.n_unique() == deaths.height
    assert deaths.select("org_id_provider", "local_patient_id").n_unique() == deaths.height


# --- Planted errors ------------------------------------------------------------------------------


def test_planted_errors_are_found_by_their_rules_on_their_rows(
    spec_v1: Spec, tmp_path: Path
) -> None:
    result = generate(spec_v1, SynthOptions(providers=5, months=6, error_rate=0.5), tmp_path)
    planted = result.planted_errors
    assert len(planted) >= 20
    assert len({e.rule_id for e in planted}) >= 10
    findings = evaluate(spec_v1, result.files)
    found = {(f.file, f.rule_id, f.row) for f in findings}
    missed = [e for e in planted if (e.file, e.rule_id, e.row_number) not in found]
    assert missed == []
    # Errors stay on their own rows: any other record finding is the partner of a duplicate.
    planted_rows = {(e.file, e.row_number) for e in planted}
    stray = {
        (f.file.name, f.row, f.rule_id)
        for f in findings
        if f.row is not None
        and (f.file, f.row) not in planted_rows
        and f.rule_id != "death.duplicate.death_record_id"
    }
    assert stray == set()


def test_a_planted_error_changes_only_its_own_cell(spec_v1: Spec, tmp_path: Path) -> None:
    options = SynthOptions(providers=4, months=4, seed=9)
    clean = generate(spec_v1, options, tmp_path / "clean")
    dirty = generate(
        spec_v1, SynthOptions(**{**options.__dict__, "error_rate": 0.4}), tmp_path / "dirty"
    )
    assert clean.planted_errors == []
    assert dirty.planted_errors
    planted = {(e.file.name, e.row_number, e.field) for e in dirty.planted_errors}
    changed = set()
    for a, b in zip(clean.files, dirty.files, strict=True):
        before = pl.read_csv(a, infer_schema=False)
        after = pl.read_csv(b, infer_schema=False)
        assert before.columns == after.columns and before.height == after.height
        for name in before.columns:
            differs = before[name].ne_missing(after[name])
            changed |= {(b.name, int(i) + 1, name) for i in differs.arg_true()}
    assert changed == planted


def test_error_rate_one_plants_an_error_on_every_death(spec_v1: Spec, tmp_path: Path) -> None:
    result = generate(spec_v1, SynthOptions(providers=2, months=3, error_rate=1.0), tmp_path)
    deaths = read_all(result, "death")
    assert len(result.planted_errors) == deaths.height
    rows = Counter((e.file, e.row_number) for e in result.planted_errors)
    assert set(rows.values()) == {1}


def test_the_planted_inequalities_are_in_the_files(tmp_path: Path) -> None:
    """Deaths of Black people are planted at twice the rate of their share of bed days, and
    deaths fall more on the more deprived deciles: both show in the files themselves, against
    the activity the same files count (the benchmark report must find them again)."""
    spec = load_spec("2.0.0")
    result = generate(spec, SynthOptions(providers=8, months=6, start="2028-04", seed=9), tmp_path)
    deaths = pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in result.files if p.stem.endswith("_death")],
        how="diagonal",
    )
    activity = pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in result.files if p.stem.endswith("_activity")]
    )
    walks = ethnic_crosswalks(spec)
    groups = Counter(ethnic_group_of(row, walks) for row in deaths.iter_rows(named=True))
    days = activity.group_by("ethnic_group").agg(pl.col("occupied_bed_days").cast(int).sum())
    share = dict(zip(days["ethnic_group"], days["occupied_bed_days"], strict=True))
    rate = {g: groups[g] / share[g] for g in ("W", "B")}
    assert 1.4 < rate["B"] / rate["W"] < 3.0, (groups, share)
    assert BLACK_RATE_RATIO == 2.0
    deciles = Counter(int(d) for d in deaths["imd_decile"])
    assert deciles[1] + deciles[2] > 1.8 * (deciles[9] + deciles[10]), deciles
    # The activity is counted in every broad ethnic group (2.0.0's new stratum).
    assert set(activity["ethnic_group"]) == {"W", "M", "A", "B", "O", "U"}
