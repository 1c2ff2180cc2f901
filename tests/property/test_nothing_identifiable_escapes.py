"""Nothing identifiable escapes: identifiers planted everywhere a submission can hold text never
reach anything a person sees.

Each example plants an NHS number (in several spellings), a date of birth (several spellings) and a
postcode, with terminal escape sequences, into every field, into extra headers, into sheet names and
into file names of CSV, XLSX and Parquet submissions; then runs ``validate`` (text, JSON, CSV and
HTML on standard output, and all three into ``--out``), ``warehouse load`` and ``run`` on them, and
scans every output (standard output and error, every file written: reports, findings, benchmarks,
the warehouse, with the workbooks unzipped) for each planted spelling and for the escape character.

Every example also holds an accepted submission whose identifier fields carry the planted
identifiers (so the load, the accepted report and the benchmarks are scanned too). The commands run
in this process (``mhdeaths.cli.app.main``, the command's own entry point, as a subprocess would run it)
so that hypothesis can try many examples; one example runs as real subprocesses as well.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nhs_number.validate import calculate_checksum

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate

from ..conftest import LOADABLE, SPEC_ROOT
from ..functional.cli import Run, mhdeaths

SPEC = load_spec(LOADABLE[-1], SPEC_ROOT)
ENV = {"MHDEATHS_PSEUDONYM_KEY": "", "MHDEATHS_WAREHOUSE": "", "MHDEATHS_PSEUDONYM_KEY_FILE": ""}
ESCAPES = ["\x1b[31m", "\x1b]0;title\x07", "\x9b2J", "\x07"]
FORMATS = ("csv", "xlsx", "parquet")
# Dates the spec itself shows (its examples, its code lists' validity): a planted date of birth
# never equals one, or finding it in a report would prove nothing.
SPEC_DATES = {
    d for p in SPEC_ROOT.rglob("*") if p.is_file() for d in re.findall(
        r"\d{4}-\d{2}-\d{2}", p.read_text(encoding="utf-8", errors="replace")
    )
}  # fmt: skip


@dataclass(frozen=True)
class Planted:
    """The identifiers of one example and every spelling planted or looked for."""

    nhs_number: str
    birth: dt.date
    postcode: str
    nhs_spellings: tuple[str, ...]
    birth_spellings: tuple[str, ...]
    postcode_spellings: tuple[str, ...]
    extra: set[str] = field(default_factory=set)
    """Other spellings as planted (the scan looks for these too)."""

    @property
    def spellings(self) -> list[str]:
        return [*self.nhs_spellings, *self.birth_spellings, *self.postcode_spellings]

    def forbidden(self) -> set[str]:
        plain = self.postcode.replace(" ", "")
        return {
            *self.spellings,
            *self.extra,
            self.nhs_number,
            f"{self.nhs_number[:3]} {self.nhs_number[3:6]} {self.nhs_number[6:]}",
            f"{self.nhs_number[:3]}-{self.nhs_number[3:6]}-{self.nhs_number[6:]}",
            f"{self.nhs_number[:3]}.{self.nhs_number[3:6]}.{self.nhs_number[6:]}",
            self.birth.isoformat(),
            self.birth.strftime("%d/%m/%Y"),
            self.birth.strftime("%d.%m.%Y"),
            self.birth.strftime("%Y%m%d"),
            self.postcode,
            plain,
            self.postcode.lower(),
            plain.lower(),
        }


@st.composite
def planted(draw: st.DrawFn) -> Planted:
    # A synthetic-range NHS number (999...), never issued to anyone: the first stem from the drawn
    # one whose check digit exists.
    stem = draw(st.integers(999_000_000, 999_999_000))
    birth = draw(
        st.dates(dt.date(1921, 1, 1), dt.date(1999, 12, 28)).filter(
            lambda d: d.isoformat() not in SPEC_DATES
        )
    )
    area = draw(st.sampled_from(["LS", "M", "B", "SW", "EH", "N", "CF", "BT"]))
    district = draw(st.integers(1, 29))
    unit = draw(st.integers(0, 9))
    postcode = f"{area}{district} {unit}{draw(st.sampled_from(['AB', 'ZX', 'QP', 'HT']))}"
    return spell(stem, birth, postcode)


def spell(stem: int, birth: dt.date, postcode: str) -> Planted:
    """The identifiers (the NHS number from the first stem from ``stem`` with a check digit) and
    the spellings planted."""
    while (check := calculate_checksum(str(stem))) is None or check >= 10:
        stem += 1
    number = n = f"{stem}{check}"
    nhs = (
        n,
        f"{n[:3]} {n[3:6]} {n[6:]}",
        f"{n[:3]}-{n[3:6]}-{n[6:]}",
        f"{n[:3]}.{n[3:6]}.{n[6:]}",
        # As spreadsheets and word processors write them: non-breaking spaces, en dashes.
        f"{n[:3]}\u00a0{n[3:6]}\u00a0{n[6:]}",
        f"{n[:3]}\u2013{n[3:6]}\u2013{n[6:]}",
    )
    births = (
        birth.isoformat(),
        birth.strftime("%d/%m/%Y"),
        birth.strftime("%Y%m%d"),
        birth.strftime("%d.%m.%Y"),
        birth.strftime("%d %B %Y"),
    )
    postcodes = (postcode, postcode.replace(" ", ""), postcode.lower())
    return Planted(number, birth, postcode, nhs, births, postcodes)


@dataclass(frozen=True)
class Month:
    death: pl.DataFrame
    activity: pl.DataFrame


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    out = tmp_path_factory.mktemp("synth")
    result = generate(SPEC, SynthOptions(providers=1, months=1, start="2027-10", seed=7), out)
    frames = {p.stem.split("_", 2)[2]: pl.read_csv(p, infer_schema=False) for p in result.files}
    return Month(frames["death"], frames["activity"])


def _cells(frame: pl.DataFrame, column: str, values: dict[int, str]) -> pl.DataFrame:
    cells = frame.get_column(column).to_list()
    for row, value in values.items():
        cells[row % frame.height] = value
    return frame.with_columns(pl.Series(column, cells, dtype=pl.String))


def everywhere(frame: pl.DataFrame, plant: Planted, escapes: bool = True) -> pl.DataFrame:
    """Every field holds a planted spelling on some record (with an escape sequence on every
    other), and three extra columns are headed by identifiers."""
    payloads = plant.spellings
    for index, column in enumerate(frame.columns):
        value = payloads[index % len(payloads)]
        if escapes and index % 2:
            value = ESCAPES[index % len(ESCAPES)] + value
        frame = _cells(frame, column, {index: value})
    extra = {
        f"{ESCAPES[0]}{plant.nhs_spellings[1]}": plant.nhs_number,
        plant.birth_spellings[1]: plant.postcode,
        f"notes {plant.postcode_spellings[0]}": plant.birth_spellings[0],
    }
    return frame.with_columns(pl.lit(v).alias(k) for k, v in extra.items())


def identifiers_only(frame: pl.DataFrame, plant: Planted) -> pl.DataFrame:
    """A valid death table whose identifier fields carry the planted identifiers (accepted).
    Spec 2.0.0 no longer collects the postcode: there it goes nowhere a valid record allows."""
    frame = _cells(
        _cells(frame, "nhs_number", {0: plant.nhs_number}),
        "person_birth_date",
        {0: plant.birth.isoformat()},
    )
    if "postcode" in frame.columns:
        frame = _cells(frame, "postcode", {0: plant.postcode})
    return frame


def write(frames: dict[str, pl.DataFrame], folder: Path, fmt: str, names: dict[str, str]) -> None:
    """One file per table, named ``names[table] + '_' + table``, in the format; an xlsx workbook's
    one sheet is named by an identifier too (so the table is known by its file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, frame in frames.items():
        path = folder / f"{names[table]}_{table}.{fmt}"
        if fmt == "csv":
            frame.write_csv(path)
        elif fmt == "parquet":
            frame.write_parquet(path)
        else:
            with xlsxwriter.Workbook(path) as book:
                sheet = book.add_worksheet(names.get("sheet", table))
                sheet.write_row(0, 0, frame.columns)
                for r, row in enumerate(frame.iter_rows(), start=1):
                    sheet.write_row(r, 0, ["" if v is None else v for v in row])


def build_inbox(root: Path, month: Month, plant: Planted, formats: tuple[str, ...]) -> list[Path]:
    """For each format, a rejected submission with identifiers everywhere and an accepted one with
    identifiers in its identifier fields; the folders of the submissions."""
    folders = []
    sheet_name = plant.nhs_spellings[2]  # a sheet name holds no '/', ':', '[' or ']'
    bad_names = {
        "death": f"{ESCAPES[0]}{plant.nhs_spellings[3]} {plant.postcode_spellings[0]}",
        "activity": f"{plant.birth_spellings[0]} {plant.birth_spellings[2]}",
        "sheet": sheet_name,
    }
    plant.extra.update({bad_names["death"], bad_names["activity"]})
    for fmt in formats:
        bad = root / "inbox" / f"{fmt}-bad"
        write(
            {
                "death": everywhere(month.death, plant),
                "activity": everywhere(month.activity, plant),
            },
            bad,
            fmt,
            bad_names,
        )
        good = root / "inbox" / f"{fmt}-good"
        write(
            {"death": identifiers_only(month.death, plant), "activity": month.activity},
            good,
            fmt,
            {"death": "RZ1_2027-10", "activity": "RZ1_2027-10", "sheet": sheet_name},
        )
        folders += [bad, good]
    return folders


@contextmanager
def _argv(args: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = ["mhdeaths", *args]
    try:
        yield
    finally:
        sys.argv = saved


def in_process(*args: str | Path) -> Run:
    """The command's own entry point, run here: what it prints and its exit code."""
    from mhdeaths.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err), _argv([str(a) for a in args]):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Run(code, out.getvalue(), err.getvalue())


def run_everything(
    root: Path, folders: list[Path], call: Callable[..., Run], validate_all: bool = True
) -> list[Run]:
    """validate (every format on stdout, and into --out), warehouse load and run; validate only
    the rejected submissions unless ``validate_all``."""
    runs = []
    for folder in folders if validate_all else [f for f in folders if f.name.endswith("-bad")]:
        files = sorted(folder.iterdir())
        runs.append(
            call("validate", *files, "--format", "text", "--format", "json", "--format", "csv",
                 "--format", "html")
        )  # fmt: skip
        runs.append(call("validate", *files, "--out", root / "out" / folder.name))
    runs.append(
        call("warehouse", "load", *folders, "-w", root / "load" / "w.duckdb", "--demo-key",
             "--reports", root / "load" / "reports")
    )  # fmt: skip
    runs.append(call("run", root / "inbox", "-w", root / "run" / "w.duckdb", "--demo-key"))
    for run in runs:
        assert run.code in (0, 1, 2), run.output
        assert "Traceback" not in run.output, run.output
    return runs


def expanded(path: Path) -> bytes:
    """A file's bytes, and for a zip (a workbook) its members' bytes too."""
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            data += b"".join(archive.read(name) for name in archive.namelist())
    return data


def text_of(path: Path) -> bytes | None:
    """The text a person could read of a file: the file itself, a workbook's XML members, or
    None for a binary file (the warehouse), whose bytes hold escape characters by chance."""
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            return b"".join(archive.read(name) for name in archive.namelist())
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return data


def scan(root: Path, inputs: set[Path], runs: list[Run], plant: Planted) -> list[str]:
    """Every planted spelling and every escape character found in any output."""
    outputs: dict[str, bytes] = {
        f"run {i} {stream}": text.encode("utf-8", "surrogateescape")
        for i, run in enumerate(runs)
        for stream, text in (("stdout", run.stdout), ("stderr", run.stderr))
    }
    texts = dict(outputs)
    for path in sorted(root.rglob("*")):
        if path.is_file() and path not in inputs:
            where = str(path.relative_to(root)).encode("unicode_escape").decode()
            outputs[where] = expanded(path)
            if (text := text_of(path)) is not None:
                texts[where] = text
    assert any(name.endswith(".report.html") for name in outputs), sorted(outputs)
    assert any(name.endswith(".findings.csv") for name in outputs), sorted(outputs)
    assert any(name.endswith(".duckdb") for name in outputs), sorted(outputs)
    found = []
    for where, data in outputs.items():
        for text in plant.forbidden():
            if text.encode() in data:
                found.append(f"{text!r} in {where}")
    for where, data in texts.items():
        if b"\x1b" in data or "\x9b".encode() in data:
            found.append(f"an escape character in {where}")
    # The file names written are outputs too (a report named after a planted value).
    for path in root.rglob("*"):
        if path not in inputs and any(t in path.name for t in plant.forbidden()):
            found.append(f"a planted value in the name {path.name!r}")
    return found


def attack(
    root: Path,
    month: Month,
    plant: Planted,
    formats: tuple[str, ...],
    call: Callable[..., Run],
    validate_all: bool = True,
) -> None:
    folders = build_inbox(root, month, plant, formats)
    inputs = {p for folder in folders for p in folder.iterdir()}
    runs = run_everything(root, folders, call, validate_all)
    # The control: the scan is not blind. A planted value is in the inputs it reads...
    assert any(plant.nhs_number.encode() in expanded(p) for p in inputs)
    assert scan(root, inputs, runs, plant) == []
    # ...and it finds what is there: a spelling and an escape written into an output are found.
    (root / "out" / "control.txt").write_text(f"{plant.nhs_spellings[2]}\x1b[0m", encoding="utf-8")
    assert len(scan(root, inputs, runs, plant)) == 2
    (root / "out" / "control.txt").unlink()
    # ...and the runs did what they should: the accepted submissions loaded, the rest rejected.
    load, run = runs[-2], runs[-1]
    assert f"{len(formats)} loaded" in load.stdout.replace("submission(s): ", ""), load.output
    assert run.code == 1 and "Benchmarks:" in run.stdout, run.output


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plant=planted(), fmt=st.sampled_from(FORMATS))
def test_no_planted_identifier_reaches_any_output(month: Month, plant: Planted, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        attack(Path(tmp), month, plant, (fmt,), in_process)


@pytest.mark.slow
def test_no_planted_identifier_reaches_any_output_of_the_real_command(
    month: Month, tmp_path: Path
) -> None:
    """One example with every input format, through real subprocesses of ``mhdeaths`` (about
    half a minute: the command starts afresh eight times)."""
    plant = spell(999_123_456, dt.date(1957, 3, 9), "EH4 7QP")

    def subprocess(*args: str | Path) -> Run:
        return mhdeaths(*args, env=ENV)

    attack(tmp_path, month, plant, FORMATS, subprocess, validate_all=False)


# --- The leaks found, one by one ---------------------------------------------------------------

KNOWN = spell(999_765_432, dt.date(1949, 11, 23), "CF10 3NP")


def test_a_duplicated_record_id_spelt_as_an_nhs_number_is_not_shown(
    month: Month, tmp_path: Path
) -> None:
    dotted = KNOWN.nhs_spellings[3]
    death = month.death.with_columns(pl.lit(dotted).alias("death_record_id"))
    folder = tmp_path / "in"
    write({"death": death, "activity": month.activity}, folder, "csv", dict.fromkeys(
        ("death", "activity"), "RZ1_2027-10"))  # fmt: skip
    run = in_process("validate", *sorted(folder.iterdir()), "--format", "json")
    assert run.code == 1, run.output
    assert '"death.duplicate.death_record_id"' in run.stdout
    assert dotted not in run.output and KNOWN.nhs_number not in run.output


def test_a_stray_quote_gives_line_and_column_not_the_line(tmp_path: Path) -> None:
    header = "spec_version,org_id_provider,nhs_number,person_birth_date,postcode"
    line = f'1.1.0,RZ1,"{KNOWN.nhs_spellings[1]},{KNOWN.birth_spellings[1]},{KNOWN.postcode}'
    path = tmp_path / "RZ1_2027-10_death.csv"
    path.write_text(f"{header}\n1.1.0,RZ1,,,\n{line}\n1.1.0,RZ1,,,\n", encoding="utf-8")
    for run in (in_process("validate", path), mhdeaths("validate", path)):
        assert run.code == 2, run.output
        assert "line 3, column C" in run.stderr, run.stderr
        assert [t for t in KNOWN.forbidden() if t in run.output] == [], run.output
