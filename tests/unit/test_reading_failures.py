"""Closed ids: every file-read failure and every spec-check problem comes from one catalogue.

The catalogues (``mhdeaths.validate.reading.failures``, ``mhdeaths.standard.problems``) are the
one place their sentences are written: these tests hold the code to raising only through them,
every id raised to be listed and every listed id to be raised, and a real failure to carry its
id with the sentence a person saw before the ids existed, word for word.
"""

from __future__ import annotations

import ast
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pytest

from mhdeaths.errors import Catalogue, ProblemKind
from mhdeaths.limits import Limits
from mhdeaths.standard.problems import SPEC_PROBLEMS
from mhdeaths.validate.reading import SubmissionFileError, read_file
from mhdeaths.validate.reading.failures import READ_FAILURES

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "mhdeaths"
CATALOGUES = {"file": READ_FAILURES, "spec": SPEC_PROBLEMS}
AN_ID = re.compile(r"(file|spec)/[a-z0-9]+(?:-[a-z0-9]+)*")


def ids_in(paths: Iterable[Path]) -> dict[str, set[str]]:
    """Every string in the code that is written as an id, by area (``file``, ``spec``), other
    than where a catalogue defines it (the first argument of ``ProblemKind``)."""
    found: dict[str, set[str]] = {area: set() for area in CATALOGUES}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        defined = {
            id(node.args[0])
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"ProblemKind", "_K"}
            and node.args
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and AN_ID.fullmatch(node.value)
                and id(node) not in defined
            ):
                found[node.value.split("/")[0]].add(node.value)
    return found


def code_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("area", sorted(CATALOGUES))
def test_every_id_raised_is_in_its_catalogue_and_every_entry_is_raised(area: str) -> None:
    used = ids_in(code_files())[area]
    listed = {kind.id for kind in CATALOGUES[area]}
    assert used - listed == set(), "raised in code but not in the catalogue"
    assert listed - used == set(), "in the catalogue but never raised"


def test_the_walk_finds_an_id_planted_in_code(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        'raise failure("file/made-up-here", file=name)\n'
        'add(where, "spec/made-up-too" if x else "spec/code-listed-twice")\n'
        'text = "file/ is not an id, nor spec/Upper"\n'
        'KINDS = [ProblemKind("file/defined-here", "Title", "{file}."), _K("spec/too", "T", "t")]\n'
    )
    assert ids_in([planted]) == {
        "file": {"file/made-up-here"},
        "spec": {"spec/made-up-too", "spec/code-listed-twice"},
    }


def test_reading_builds_no_sentence_of_its_own() -> None:
    # Every SubmissionFileError of reading is made by failures.failure, from the catalogue.
    made = []
    for path in (PACKAGE / "validate" / "reading").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "SubmissionFileError"
            ):
                made.append(path.name)
    assert made == ["failures.py"]


def test_the_spec_check_builds_no_sentence_of_its_own() -> None:
    # Each problem is reported as add(where, id, **values): the second argument is an id.
    path = PACKAGE / "standard" / "check.py"
    calls = [
        node
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "add"
    ]
    assert len(calls) > 40
    for call in calls:
        kind = call.args[1]
        assert isinstance(kind, ast.Constant) and AN_ID.fullmatch(kind.value), ast.unparse(call)


def test_a_catalogue_refuses_an_id_twice() -> None:
    kind = ProblemKind("file/twice", "Twice", "{file} twice.")
    with pytest.raises(ValueError, match="file/twice"):
        Catalogue("test", [kind, ProblemKind("file/twice", "Again", "again.")])


def test_an_id_missing_from_the_catalogue_is_a_bug_not_a_sentence() -> None:
    with pytest.raises(KeyError):
        READ_FAILURES["file/not-in-the-catalogue"]


@pytest.mark.parametrize("kind", [*READ_FAILURES, *SPEC_PROBLEMS], ids=lambda k: k.id)
def test_each_template_makes_a_sentence_from_its_shape(kind: ProblemKind) -> None:
    # The page lists the shape; filled with its own names it reads as the template would.
    names = re.findall(r"\{(\w+)\}", kind.shape)
    assert "{" not in re.sub(r"\{\w+\}", "", kind.shape), kind.shape
    text = kind.text(**dict.fromkeys(names, 7))
    assert "{" not in text and "}" not in text
    assert kind.title and kind.title[0].isupper() and not kind.title.endswith(".")
    assert kind.id.split("/")[0] == ("file" if kind.id in READ_FAILURES else "spec")


def xlsx_without_content_types() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # A fixed time, so the bytes are the same whenever they are made.
        archive.writestr(zipfile.ZipInfo("hello.txt", (2027, 1, 1, 0, 0, 0)), "not a workbook")
    return buffer.getvalue()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


# Each failure made from a real file, with the sentence it gave before the ids, word for word.
CASES: list[tuple[str, str, bytes | None, dict[str, object], str]] = [
    ("file/missing", "absent.csv", None, {}, "There is no file at {path}."),
    (
        "file/binary",
        "data.csv",
        b"a,b\n\x00\x01,2\n",
        {},
        ("data.csv holds binary data, so it is not a CSV file; send CSV, Excel or Parquet."),
    ),
    (
        "file/encoding-unknown",
        "data.csv",
        b"a,b\n1,2\n",
        {"encoding": "klingon"},
        ("'klingon' is not an encoding mhdeaths knows."),
    ),
    (
        "file/encoding-mismatch",
        "data.csv",
        b"a,b\n1,\xff\n",
        {"encoding": "ascii"},
        ("data.csv is not valid ascii text (byte 7 cannot be read)."),
    ),
    (
        "file/not-utf8",
        "data.csv",
        b"a,b\n1,\xff\n",
        {"encoding": "utf-8"},
        ("data.csv is not valid UTF-8 text."),
    ),
    (
        "file/misnamed",
        "death.xlsx",
        b"a,b\n1,2\n",
        {},
        (
            "death.xlsx is named .xlsx but is not an Excel or Parquet file (it may be damaged or "
            "renamed)."
        ),
    ),
    (
        "file/zip-not-workbook",
        "death.xlsx",
        xlsx_without_content_types(),
        {},
        ("death.xlsx is a zip archive, not an Excel workbook."),
    ),
    (
        "file/parquet-unreadable",
        "death.parquet",
        b"PAR1 and then nothing of use",
        {},
        ("death.parquet is not a readable Parquet file."),
    ),
    (
        "file/header-line-break",
        "data.csv",
        b'a,"b\nc"\n1,2\n',
        {},
        (
            "The header line of data.csv has a column name with a line break in it (an odd number of "
            "quotes); write every column name on the one header line."
        ),
    ),
    (
        "file/too-many-columns",
        "data.csv",
        b"a,b,c,d\n1,2,3,4\n",
        {"columns": 3},
        (
            "data.csv has 4 columns, more than the limit of 3; send only the spec's fields, or raise "
            "the limit with --limit columns=N."
        ),
    ),
    (
        "file/csv-too-many-values",
        "data.csv",
        b"a,b\n1,2\n1,2,3\n",
        {},
        (
            "data.csv cannot be read: line 3 has 3 values but the header has 2 (check the delimiter "
            "and the quoting)."
        ),
    ),
    (
        "file/column-not-text",
        "death.parquet",
        parquet_bytes(pl.DataFrame({"a": [[1, 2]]})),
        {},
        (
            "The column 'a' of death.parquet holds List(Int64) values, which cannot be read as text; "
            "write one plain value per cell."
        ),
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "data", "options", "sentence"),
    CASES,
    # Named by failure and file, never by the bytes: each xdist worker collects the cases itself,
    # and the ids must be the same in both.
    ids=[f"{case[0]}:{case[1]}" for case in CASES],
)
def test_a_real_failure_carries_its_id_and_the_sentence_as_before(
    tmp_path: Path,
    kind: str,
    name: str,
    data: bytes | None,
    options: dict[str, object],
    sentence: str,
) -> None:
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    encoding = options.get("encoding")
    limits = Limits(columns=int(str(options["columns"]))) if "columns" in options else Limits()
    with pytest.raises(SubmissionFileError) as caught:
        read_file(path, encoding=None if encoding is None else str(encoding), limits=limits)
    assert caught.value.id == kind
    assert str(caught.value) == sentence.format(path=path)


def test_every_failure_of_the_cases_is_distinct() -> None:
    # One case per id: a case list that named one id twice would leave another untested.
    kinds = [case[0] for case in CASES]
    assert len(kinds) == len(set(kinds))
    assert set(kinds) <= {kind.id for kind in READ_FAILURES}


def test_a_folder_is_a_failure_with_its_id(tmp_path: Path) -> None:
    with pytest.raises(SubmissionFileError) as caught:
        read_file(tmp_path)
    assert caught.value.id == "file/folder"
    assert str(caught.value) == f"{tmp_path} is a folder, not a file."
