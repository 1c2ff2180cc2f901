"""The validator as a web page (``spec publish``'s ``validator/``) gives the CLI's findings.

Each version's page is served by a local web server and opened in Debian's chromium; every
example submission, every known-bad one and a set of damaged files are validated in the page and
by the validator, and the verdicts, the counts and every finding (rule, severity, row, column)
must be equal. Every request the page makes is watched: one to another origin fails the test.
"""

from __future__ import annotations

import functools
import http.server
import json
import random
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from mhdeaths import guard
from mhdeaths.errors import UserError
from mhdeaths.limits import DEFAULT_LIMITS
from mhdeaths.paths import default_profiles_dir, examples_root
from mhdeaths.spec import available_versions, load_spec
from mhdeaths.validate.page import OTHER_VERSION, PAGE_ASSETS, write_validator_page
from mhdeaths.validate.profiles import load_profile
from mhdeaths.validate.reading import column_letter
from mhdeaths.validate.reading.excel import _column_number
from mhdeaths.validate.render import CSV_COLUMNS, to_json
from mhdeaths.validate.validator import validate

from .test_reports_in_browser import ARGS, CHROMIUM

SHOWN = tuple(c for c in CSV_COLUMNS if c != "table")
"""A finding's fields the page must show as the CLI does (the findings CSV's, less the table)."""
REPORTED = (
    "spec_version_declared",
    "verdict",
    "strict",
    "counts",
    "provider",
    "reporting_period",
    "profile",
    "notes",
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every version's page, as published, served from one local web server."""
    if not (PAGE_ASSETS / "index.html").is_file():
        pytest.fail(
            "The validator page is not built: run `npm ci && npm run build` in web/validator/ "
            "(scripts/setup.sh does)."
        )
    root = tmp_path_factory.mktemp("published")
    for version in available_versions():
        write_validator_page(load_spec(version), root / version)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package.")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", *ARGS]
        )
        yield launched
        launched.close()


class Pages:
    """One open page per spec version, each watched for requests to another origin. Every
    version's page is opened at once, so that they load (and warm up) side by side."""

    def __init__(self, browser: Browser, site: str) -> None:
        self.browser, self.site = browser, site
        self.pages: dict[str, Page] = {}
        self.ready: set[str] = set()
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        for version in available_versions():
            page = self.browser.new_page()
            page.on("request", self._watch)
            page.on("pageerror", lambda error: self.errors.append(str(error)))
            page.on("console", lambda message: self.console.append(message.text))
            page.goto(f"{self.site}/{version}/validator/index.html", wait_until="commit")
            self.pages[version] = page

    def page(self, version: str) -> Page:
        page = self.pages[version]
        if version not in self.ready:
            page.wait_for_selector(
                "body[data-state=ready], body[data-state=broken]", state="attached", timeout=90_000
            )
            assert page.get_attribute("body", "data-state") == "ready"
            self.ready.add(version)
        return page

    def _watch(self, request: Any) -> None:
        if not request.url.startswith(self.site + "/"):
            self.elsewhere.append(request.url)

    def start(
        self, version: str, files: list[Path], profile: Path | None = None, strict: bool = False
    ) -> None:
        """Pick the files (and profile) and press Check, without waiting for the check."""
        page = self.page(version)
        page.set_input_files("#files", [str(f) for f in files])
        page.set_input_files("#profile", [str(profile)] if profile else [])
        page.evaluate(
            "(strict) => { document.getElementById('strict').checked = strict; "
            "document.getElementById('check').click(); }",
            strict,
        )

    def finish(self, version: str) -> tuple[dict[str, Any] | None, str | None]:
        """The report, or the sentence, the check started ends in (the page settles
        ``mhdeathsChecked`` as it shows either)."""
        report, problem = self.page(version).evaluate(
            "window.mhdeathsChecked.then(() => [window.mhdeathsReport, window.mhdeathsProblem])"
        )
        return report, problem

    def validate(
        self, version: str, files: list[Path], profile: Path | None = None, strict: bool = False
    ) -> tuple[dict[str, Any] | None, str | None]:
        self.start(version, files, profile, strict)
        return self.finish(version)

    def readers(self, version: str) -> dict[str, str]:
        """Which reader read each CSV file of the last check: DuckDB's (a plain file) or the
        page's own JavaScript (any other); a file refused as it was read is not listed."""
        return dict(self.page(version).evaluate("globalThis.mhdeathsReaders"))


@pytest.fixture(scope="module")
def pages(browser: Browser, site: str) -> Iterator[Pages]:
    opened = Pages(browser, site)
    yield opened
    assert opened.elsewhere == [], "the page reached another origin"
    assert opened.errors == []
    # The browser's console is something a person sees too: no NHS number from any file checked
    # (DuckDB's own CSV errors quote the line they stop at).
    said = [m for m in opened.console if NHS_NUMBER.search(m)]
    assert said == [], said[:3]


NHS_NUMBER = re.compile(r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])")
"""Ten digits, as a file writes an NHS number (whether or not its check digit holds)."""


def _cli(
    version: str | None, files: list[Path], profile: Path | None, strict: bool = False
) -> dict[str, Any]:
    chosen = load_profile(profile) if profile else None
    result = validate(files, spec_version=version, profile=chosen, strict=strict)
    return json.loads(to_json(result.report))


def _same(
    version: str,
    files: list[Path],
    pages: Pages,
    profile: Path | None = None,
    strict: bool = False,
    forced: bool = True,
) -> None:
    """The page of ``version`` shows what the CLI does: with ``--spec version`` (``forced``), or
    choosing the version the files declare, as a provider runs it. (The CLI runs while the page
    checks.)"""
    pages.start(version, files, profile, strict)
    try:
        expected = _cli(version if forced else None, files, profile, strict)
    except UserError as exc:
        shown, problem = pages.finish(version)
        # The page names a file by its name: it is never told the folder.
        said = str(exc).replace(str(profile), profile.name) if profile else str(exc)
        assert shown is None and problem == guard.message(said)
        return
    shown, problem = pages.finish(version)
    if expected["spec_version"] != version:
        # The CLI checked the files against the version they declare: the page holds one.
        other = OTHER_VERSION.format(declared=expected["spec_version"], page=version)
        assert (shown, problem) == (None, other)
        return
    assert problem is None and shown is not None
    assert {k: shown[k] for k in REPORTED} == {k: expected[k] for k in REPORTED}
    assert (shown["profile"], shown["rules_checked"]) == (
        expected["profile"],
        expected["rules_checked"],
    )
    summary = ("rule_id", "severity", "spec_severity", "failed", "derogation")
    assert [tuple(r[k] for k in summary) for r in shown["rules"]] == [
        tuple(r[k] for k in summary) for r in expected["rules"]
    ]
    assert [tuple(f[k] for k in SHOWN) for f in shown["findings"]] == [
        tuple(f[k] for k in SHOWN) for f in expected["findings"]
    ]
    assert shown["fields"] == expected["fields"]


def _submissions() -> list[tuple[str, list[Path]]]:
    """Every example submission (files of one provider and month), with the version it declares."""
    found: dict[tuple[Path, str], list[Path]] = {}
    for path in sorted(examples_root().rglob("*.csv")):
        month = re.search(r"_(\d{4}-\d{2})_", path.name)
        assert month is not None
        found.setdefault((path.parent, month.group(1)), []).append(path)
    out = []
    for (_, _month), files in sorted(found.items()):
        declared = re.search(r"\n(?:[^,\n]*,)?(\d+\.\d+\.\d+),", files[0].read_text())
        out.append((declared.group(1) if declared else "1.1.0", files))
    return out


SUBMISSIONS = _submissions()


@pytest.mark.parametrize(
    ("version", "files"),
    SUBMISSIONS,
    ids=[f"{files[0].parent.name}/{files[0].name[:11]}" for _, files in SUBMISSIONS],
)
def test_example_submissions_as_the_cli(version: str, files: list[Path], pages: Pages) -> None:
    # A provider whose export is in its own headers and codes is read through its profile.
    provider = files[0].name.split("_")[0]
    profile = default_profiles_dir() / f"{provider}.yaml"
    _same(version, files, pages, profile if provider == "RZ9" else None)


def test_profiles_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """A profile's derogation, stated encoding and delimiter, and a profile that is not valid."""
    bad = examples_root() / "known-bad/RY1"
    files = [bad / "RY1_2027-10_activity.csv", bad / "RY1_2027-10_death.csv"]
    failing = _cli("1.1.0", files, None)["rules"]
    derogated = tmp_path / "RY1.yaml"
    derogated.write_text(
        "provider: RY1\nname: Westmoor\nencoding: latin-1\ndelimiter: ','\nderogations:\n"
        + "".join(
            f"  - {{rule: {r['rule_id']}, severity: info, until: 2099-12-31, "
            # Stripped as Python strips (U+2003 and U+001F go, a byte-order mark stays), then
            # shown as the guard shows a sentence: no NHS number.
            f'reason: "\\u2003agreed with 943 476 5919\\uFEFF \\x1f"}}\n'
            for r in failing[:2]
        )
        + f"  - {{rule: {failing[2]['rule_id']}, until: 2000-01-31, reason: ended}}\n"
    )
    _same("1.1.0", files, pages, derogated)
    _same("1.1.0", files, pages, derogated, strict=True)
    for name, text in {
        "missing.yaml": "provider: RY1\n",
        "extra.yaml": "provider: RY1\nname: W\ncolour: red\n",
        "not-a-string.yaml": "provider: RY1\nname: W\ncodes: {stated_gender: {M: 1}}\n",
        "severity.yaml": "provider: RY1\nname: W\nderogations: [{rule: x, severity: low, "
        "until: 2099-01-01, reason: r}]\n",
        "list.yaml": "- provider\n",
        "broken.yaml": "provider: [RY1\n",
    }.items():
        path = tmp_path / name
        path.write_text(text)
        _same("1.1.0", files, pages, path)


def _damaged(text: str) -> dict[str, bytes]:
    """Ways a death file is sent that the reader, not a rule, must cope with or refuse."""
    lines = text.splitlines()
    header, first, rest = lines[0], lines[1], lines[2:]
    cells = first.split(",")
    width = len(header.split(","))
    return {
        "blank-lines-at-end": ("\n".join(lines) + "\n\n\n").encode(),
        "blank-records-inside": "\n".join(
            [header, first, "   ", "," * (width - 1), "\t" + "," * 3, *rest]
        ).encode(),
        "crlf-short-rows": "\r\n".join(
            [header, ",".join(cells[:-5]), *rest, ",".join(cells[:3])]
        ).encode(),
        "all-quoted": "\n".join(
            [header] + [",".join(f'"{c}"' for c in line.split(",")) for line in [first, *rest]]
        ).encode(),
        "semicolons": "\n".join(line.replace(",", ";") for line in lines).encode(),
        "windows-1252": (text.replace("RY1-D", "RY1-D\u00e9", 1)).encode("cp1252"),
        # Every value ASCII, a header Windows-1252 (the CLI read it as UTF-8, with replacement
        # characters); a byte neither encoding defines, in a header and in a value.
        "windows-1252-header": "\n".join([header + ",cost\u00a3", *lines[1:]]).encode("cp1252"),
        "windows-1252-quote-in-header": "\n".join(
            [header.replace("local_patient_id", "patient\u2019s id"), *lines[1:]]
        ).encode("cp1252"),
        "undefined-byte-in-header": "\n".join([header, *lines[1:]])
        .encode()
        .replace(b"nhs_number", b"nhs_number\x81", 1),
        "undefined-byte-in-a-value": text.encode().replace(b"DN2 9XF", b"DN2\x81 9XF", 1),
        "crlf-bom-blank-lines": ("\ufeff" + "\r\n".join([header, first, "", *rest, ""])).encode(),
        "padded-and-quoted": "\n".join(
            [
                header,
                ",".join(f'" {c}  "' if i % 3 else f" {c}\t" for i, c in enumerate(cells)),
                *rest,
            ]
        ).encode(),
        "value-across-lines": "\n".join(
            [header, ",".join([*cells[:5], '"P12\n34"', *cells[6:]]), *rest]
        ).encode(),
        "column-missing": "\n".join(
            ",".join(line.split(",")[:3] + line.split(",")[4:]) for line in lines
        ).encode(),
        "bad-quoting": "\n".join([header, first.replace(",", ',x"', 1), *rest]).encode(),
        "quotes-inside-spaces": "\n".join(
            [header, ",".join([*cells[:4], ' "N" ', *cells[5:]]), *rest]
        ).encode(),
        # Quotes inside a value that does not start with one are text where they pair up in the
        # record, and a stray one is refused on any line (the CLI's reader read the first record
        # as no record at all, and the last, with no line break after it, as text).
        "quotes-paired-in-a-value": "\n".join(
            [header, ",".join([*cells[:6], 'P1"99"0418', *cells[7:]]), *rest]
        ).encode(),
        "quotes-paired-across-values": "\n".join(
            [
                header,
                ",".join([*cells[:6], 'P1"990418', *cells[7:40], 'LFPSE"-1', *cells[41:]]),
                *rest,
            ]
        ).encode(),
        "stray-quote-first-record": "\n".join(
            [header, ",".join([*cells[:6], 'P1"990418', *cells[7:]]), *rest]
        ).encode(),
        "stray-quote-at-a-value-end": (
            "\n".join([header, first, *rest[:-1], rest[-1].replace(",N,", ',N",', 1)]) + "\n"
        ).encode(),
        "stray-quote-last-record": "\n".join(
            [header, first, *rest[:-1], rest[-1].replace(",N,", ',N"N,', 1)]
        ).encode(),
        # A quoted value with text after its closing quote, its quotes paired (polars read
        # `"a"b"c"` as `abc`): refused, in a record, in the header, after a value spanning lines.
        "text-after-a-closing-quote": "\n".join(
            [header, first, *rest[:-1], rest[-1].replace(",X,", ',"X"o"",', 1)]
        ).encode(),
        "text-after-a-closing-quote-in-the-header": "\n".join(
            [header.replace("nhs_number", '"nhs"_"number"', 1), *lines[1:]]
        ).encode(),
        "text-after-a-closing-quote-across-lines": "\n".join(
            [header, ",".join([*cells[:5], '"P12\n34"x""', *cells[6:]]), *rest]
        ).encode(),
        "too-many-values": "\n".join([header, first + ",1,2", *rest]).encode(),
        # A header that is an identifier (the header row missing, the first record is taken for
        # it), shown in the CLI's words for it.
        "nhs-number-header": "\n".join([header + ",943 476 5919", *lines[1:]]).encode(),
        "binary": b"\x00\x01" + text.encode(),
    }


DAMAGED = list(
    _damaged((examples_root() / "known-bad/RY1/RY1_2027-11_death.csv").read_text()).items()
)

READ_BY = {
    "blank-lines-at-end": "duckdb",
    "blank-records-inside": "duckdb",
    "crlf-short-rows": "duckdb",
    "all-quoted": "duckdb",
    "semicolons": "duckdb",
    "windows-1252": "duckdb",
    "windows-1252-header": "duckdb",
    "windows-1252-quote-in-header": "duckdb",
    "crlf-bom-blank-lines": "javascript",
    "padded-and-quoted": "duckdb",
    "value-across-lines": "javascript",
    "column-missing": "duckdb",
    "nhs-number-header": "duckdb",
    "quotes-inside-spaces": "javascript",
    "quotes-paired-in-a-value": "javascript",
    "quotes-paired-across-values": "javascript",
}
"""Which reader the page reads each damaged death file with (store.js): DuckDB's, for a file
plain in the page's terms, else its own; a file refused as it is read is left out."""


@pytest.mark.parametrize(("name", "data"), DAMAGED, ids=[n for n, _ in DAMAGED])
def test_damaged_files_as_the_cli(name: str, data: bytes, pages: Pages, tmp_path: Path) -> None:
    death = tmp_path / "RY1_2027-11_death.csv"
    death.write_bytes(data)
    activity = examples_root() / "known-bad/RY1/RY1_2027-11_activity.csv"
    _same("1.1.0", [activity, death], pages)
    read = pages.readers("1.1.0")
    assert read.get(death.name) == READ_BY.get(name)
    assert read.get(activity.name) in (None, "duckdb")


def test_a_plain_file_duckdb_refuses_keeps_its_line_out_of_the_console(
    pages: Pages, tmp_path: Path
) -> None:
    """A Windows-1252 file the page's scan finds plain, whose record with an NHS number holds a
    value of a million right quotes (0x92): within the CLI's line length, but three bytes each
    in the UTF-8 the page gives DuckDB, past the longest line DuckDB's reader takes. DuckDB's
    refusal quotes the line; the page reads the file with its own parser, as the CLI does, and
    nothing of the line, nor of the file's name, reaches the console (the ``pages`` fixture's
    check, at the end)."""
    source = examples_root() / "known-bad/RY1/RY1_2027-11_death.csv"
    header, first, *rest = source.read_text().splitlines()
    cells = first.split(",")
    assert NHS_NUMBER.fullmatch(cells[5])
    cells[40] = "\u2019" * 1_040_000
    death = tmp_path / "943 476 5919 RY1_2027-11_death.csv"
    death.write_bytes("\n".join([header, ",".join(cells), *rest]).encode("cp1252"))
    assert max(len(line) for line in death.read_bytes().split(b"\n")) < DEFAULT_LIMITS.line_length
    activity = examples_root() / "known-bad/RY1/RY1_2027-11_activity.csv"
    before = len(pages.console)
    _same("1.1.0", [activity, death], pages)
    # DuckDB's reader was given the file and refused it: the page said so, in its own words.
    fell_back = [m for m in pages.console[before:] if "read by the page's own reader" in m]
    assert len(fell_back) == 1, pages.console[before:]
    assert pages.readers("1.1.0")[death.name] == "javascript"


_PADS = [
    ("\u00a0", "\u00a0"),
    ("\ufeff", "\ufeff"),
    ("\u0085", "\u0085"),
    ("\u3000", "\u3000"),
    ("\u2003", "\u2003"),
    ("\u00a0 ", " \u00a0"),
]
"""Blanks each reader sees otherwise: JavaScript's trim() takes off a byte-order mark and leaves
NEL (U+0085), the CLI's (Rust's white space) the reverse; and a space inside a no-break space,
which no delimiter touches."""


def _unicode_padded(text: str, *, spaced: bool, across_lines: bool) -> bytes:
    """A file whose values (an empty one too) and headers are padded with the blanks above, before,
    after or around them. Every value is trimmed of Rust's white space, whether or not another has
    ASCII padding (``spaced``: some values with a space outside a no-break space each side, which
    the CLI once needed before it trimmed any); headers of Python's (NEL and U+001C, not a
    byte-order mark). ``across_lines``: a quoted value spans lines, so the page parses it itself."""
    header, *lines = text.splitlines()
    names = header.split(",")
    names[3], names[4] = "\u0085" + names[3], names[4] + "\ufeff"
    names[5], names[6] = "\x1c" + names[5], "\u3000" + names[6] + "\u00a0"
    out = [",".join(names)]
    k = 0
    for r, line in enumerate(lines):
        cells = line.split(",")
        # The declared version, provider and period stay as they are: the findings are compared.
        for c in range(3, len(cells)):
            if across_lines and (r, c) == (0, 3):
                cells[c] = f'"{cells[c][:2]}\n{cells[c][2:]}"'
                continue
            lead, trail = _PADS[k % len(_PADS)]
            where = k // len(_PADS) % 3 if cells[c] else 2  # an empty value: padded both sides
            cells[c] = (lead if where != 1 else "") + cells[c] + (trail if where != 0 else "")
            if spaced and k % 7 == 0:
                cells[c] = f" \u00a0{cells[c]}\u00a0 "
            k += 1
        out.append(",".join(cells))
    return ("\n".join(out) + "\n").encode()


def test_unicode_padding_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """Values and headers padded with blanks other than ASCII ones, with ASCII padding elsewhere
    in the file and without; each read by DuckDB (the activity file) and by the page's own parser
    (the death file). Two checks, whose findings are the same: a value is trimmed as it is."""
    bad = examples_root() / "known-bad/RY1"
    for spaced in (False, True):
        folder = tmp_path / f"spaced-{spaced}"
        folder.mkdir()
        activity, death = folder / "RY1_2027-11_activity.csv", folder / "RY1_2027-11_death.csv"
        made = _unicode_padded((bad / activity.name).read_text(), spaced=spaced, across_lines=False)
        activity.write_bytes(made)
        made = _unicode_padded((bad / death.name).read_text(), spaced=not spaced, across_lines=True)
        death.write_bytes(made)
        _same("1.1.0", [activity, death], pages)
        assert pages.readers("1.1.0") == {activity.name: "duckdb", death.name: "javascript"}
    both = [
        [tmp_path / f"spaced-{spaced}/RY1_2027-11_{table}.csv" for table in ("activity", "death")]
        for spaced in (False, True)
    ]
    without, spaced_too = (_cli("1.1.0", files, None)["findings"] for files in both)
    assert without == spaced_too != []


_CELLS = [
    "",
    "a",
    "Ab1",
    "x y",
    " x ",
    "\tx",
    "x\t",
    "  ",
    "\u00a0z\u00a0",
    "\u00e9t\u00e9",
    "\ufeffb",
    "\u0085x",
    "y\u3000",
    "\u2003",
    "\u00a0 w \u00a0",
    '"q"',
    '"q,r"',
    '"q;r"',
    '"q, r"',
    '""',
    '" "',
    '"a""b"',
    '"x\ny"',
    'x"y"',
    'x"y',
    '"a"b',
    ' "n" ',
    "x\ry",
    "\x00",
]
_PLAIN_CELLS = [
    c for c in _CELLS if not any(b in c for b in ("\n", "\r", "\x00", 'x"', '"a"b', ' "'))
]
"""Cells a plain file may hold: a third of the files are made of these alone."""


_QUIET_CELLS = [c for c in _PLAIN_CELLS if not any(b in c for b in (" ", "\t", '""'))]
"""Plain cells with no ASCII padding (a third of the files are made of these alone): a value
padded, if at all, with other white space, which the CLI trimmed only in a file where another
value had ASCII padding; now in every file, as the page does."""


def _csv_file(rng: random.Random) -> bytes:
    """A CSV file of the shapes a reader must cope with: quoting right and wrong, padding (ASCII
    or other blanks, or other blanks alone), short and long records, blank records and
    lines, line endings of each kind, a byte-order mark, UTF-8 or Windows-1252."""
    sep = rng.choice([",", ";", "\t"])
    pool = rng.choice([_CELLS, _PLAIN_CELLS, _QUIET_CELLS])
    quiet = pool not in (_CELLS, _PLAIN_CELLS)
    width = rng.randint(1, 4)
    pads = ["", "", "\u00a0", "\u0085", "\ufeff", "\x1c", *([] if quiet else [" "])]
    records = [
        [
            rng.choice(pool)
            for _ in range(width if rng.random() < 0.7 else rng.randint(0, width + 1))
        ]
        for _ in range(rng.randint(0, 6))
    ]
    lines = [sep.join(f"{rng.choice(pads)}h{i}{rng.choice(pads)}" for i in range(width))]
    lines += [sep.join(r) for r in records]
    ending = rng.choice(["\n", "\r\n", "mixed"])
    text = "".join(
        line + (("\r\n" if i % 2 else "\n") if ending == "mixed" else ending)
        for i, line in enumerate(lines)
    )
    if rng.random() < 0.5:
        text = text.rstrip("\r\n")
    text = ("\ufeff" if rng.random() < 0.3 else "") + text + rng.choice(["", "\n", "\r\n\r\n"])
    if rng.random() < 0.3 and all(ord(c) < 256 for c in text):
        return text.encode("cp1252", "replace")
    return text.encode()


def test_the_page_trims_what_the_cli_trims() -> None:
    """The blanks the page takes off (blanks.js) are those the CLI does: a value's, polars'
    strip_chars (Rust's white space); a header's, Python's str.strip; every character tried."""
    import subprocess

    import polars as pl

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    stripped = pl.Series(chars).str.strip_chars().str.len_chars().eq(0).to_list()
    rust = {c for c, gone in zip(chars, stripped, strict=True) if gone}
    python = {c for c in chars if not c.strip()}
    web = Path(__file__).resolve().parents[2] / "web" / "validator"
    script = (
        'import("./src/blanks.js")'
        ".then((m) => console.log(JSON.stringify([m.RUST_BLANKS, m.PYTHON_BLANKS])))"
    )
    done = subprocess.run(
        ["node", "-e", script], cwd=web, capture_output=True, text=True, check=True
    )
    page_rust, page_python = json.loads(done.stdout)
    assert (set(page_rust), set(page_python)) == (rust, python)


def _padded_once() -> list[bytes]:
    """Plain files with one value (or header) that may be padded, in each way a value may be or
    seem to be (at the end of the file too), beside a value padded with other white space: each
    value is trimmed as it is, whatever the other is."""
    files = []
    for sep in (",", ";", "\t"):
        values = [" x", "x ", "x\t", '" "', '"q "', '"\tq"', '"q\t"', '""', '"a""b"', f'"q{sep} r"']
        for value in ["x", *values, f'"q {sep}r"', f'"q{sep}r"']:
            for end in ("\n", ""):
                files.append(f"h0{sep}h1\n\u00a0a\u0085{sep}{value}{end}".encode())
        files += [f"{h}\n\u00a0a\u0085{sep}x\n".encode() for h in (f" h0{sep}h1", f"h0{sep}h1 ")]
    return files


def test_the_page_reads_a_plain_file_as_its_own_parser() -> None:
    """DuckDB's reader, given only the files the page's scan finds plain, reads each as the
    page's own parser does: the same headers, records, rows, values and blank rows; and the scan
    lets through no file the parser refuses. Three hundred files made at random (seeded) and
    those padded once, read in Node with DuckDB's blocking build, in one process."""
    import base64
    import subprocess

    rng = random.Random(18)
    files = [_csv_file(rng) for _ in range(300)] + _padded_once()
    web = Path(__file__).resolve().parents[2] / "web" / "validator"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump([base64.b64encode(f).decode() for f in files], fh)
    try:
        done = subprocess.run(
            ["node", "check_readers.mjs", fh.name],
            cwd=web,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(fh.name).unlink()
    summary = json.loads(done.stdout)
    differ = [(files[d["n"]], d["expected"], d["found"]) for d in summary["differ"]]
    assert differ == []
    # Both readers had work: plain files, and files the scan left to the parser.
    assert summary["plain"] > 60 and summary["notPlain"] > 60, summary


def _declaring(tmp_path: Path, version: str, period: str = "2027-10") -> list[Path]:
    """RY1's known-bad October files, rewritten to declare another version (and period)."""
    out = []
    for table in ("activity", "death"):
        source = examples_root() / f"known-bad/RY1/RY1_2027-10_{table}.csv"
        header, *lines = source.read_text().splitlines()
        lines = [f"{version},RY1,{period}," + line.split(",", 3)[3] for line in lines]
        folder = tmp_path / f"{version}-{period}".replace(" ", "_")
        folder.mkdir(exist_ok=True)
        out.append(folder / source.name)
        out[-1].write_text("\n".join([header, *lines]) + "\n")
    return out


def test_declared_versions_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """A version no page knows, one that reads as an NHS number, and one another page checks;
    each page checks the files written to its own version as the CLI chooses it."""
    for declared in ("9.9.9", "943 476 5919", "1.0.0", "1.1.0"):
        files = _declaring(tmp_path, declared)
        _same("1.1.0", files, pages, forced=False)
    _same("1.0.0", _declaring(tmp_path, "1.0.0"), pages, forced=False)


def test_limits_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """A header past the column limit and a line past the line-length limit are refused with the
    CLI's sentence, before the page holds the file."""
    activity = examples_root() / "known-bad/RY1/RY1_2027-11_activity.csv"
    wide = tmp_path / "wide" / "RY1_2027-11_death.csv"
    wide.parent.mkdir()
    wide.write_text(",".join(f"c{i}" for i in range(DEFAULT_LIMITS.columns + 1)) + "\n1\n")
    _same("1.1.0", [activity, wide], pages)
    long = tmp_path / "long" / "RY1_2027-11_death.csv"
    long.parent.mkdir()
    long.write_text("a,b,c\n" + "x" * (DEFAULT_LIMITS.line_length + 1) + "\n")
    _same("1.1.0", [activity, long], pages)


def test_profile_fit_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """A profile that does not fit the page's version is refused with the CLI's sentence: its
    first problem (in the order `profile check` lists them) and how many more."""
    bad = examples_root() / "known-bad/RY1"
    files = [bad / "RY1_2027-10_activity.csv", bad / "RY1_2027-10_death.csv"]
    head = "provider: RY1\nname: Westmoor\n"
    unfit = {
        "table": "headers: {wards: {Ward: ward}}\n",
        "field": "headers: {death: {DOD: date_of_death, Sex: stated_gender}}\n",
        "twice": "headers: {death: {A: ethnic_category, B: stated_gender, C: ethnic_category, "
        "D: stated_gender}}\n",
        "sheet": "sheets: {' Deaths ': deaths}\n",
        "not-coded": "codes: {nhs_number: {'1': '2'}}\n",
        # Local codes that read as numbers are listed in the file's order, as Python keeps them.
        "codes-in-order": "codes: {stated_gender: {'Z': '7', '2': '8', '1': '9'}}\n",
        "rule": "derogations: [{rule: death.no_such_rule, until: 2099-01-01, reason: r}]\n",
        "date-format": "date_format: '%d/%m/%'\n",
        "several": "headers: {wards: {W: w}, death: {X: y}}\nsheets: {S: t}\n"
        "date_format: '%d %%'\n",
    }
    for name, text in unfit.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(head + text)
        _same("1.1.0", files, pages, path)
    # A profile that fits is applied: its sheet names harm no CSV file.
    fits = tmp_path / "fits.yaml"
    fits.write_text(head + "sheets: {' Deaths ': death}\ndate_format: '%d/%m/%Y'\n")
    _same("1.1.0", files, pages, fits)


def test_feed_files_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """A national feed's file given to the page is refused with the CLI's sentence, alone or
    beside a submission's own file."""
    from mhdeaths.spec import load_feed_spec

    activity = examples_root() / "known-bad/RY1/RY1_2027-11_activity.csv"
    death = examples_root() / "known-bad/RY1/RY1_2027-11_death.csv"
    for feed, name in (("registrations", "deaths_2027.csv"), ("spells", "mhsds_2027-04.csv")):
        (table,) = load_feed_spec(feed, "1.0.0").tables
        path = tmp_path / name
        header = ",".join(f.name for f in table.submitted_fields)
        row = ",".join(str(f.example).replace(",", " ") for f in table.submitted_fields)
        path.write_text("\n".join([header, row, row, row]) + "\n")
        _same("1.1.0", [path], pages)
        _same("1.1.0", [death, activity, path], pages)


# --- Excel workbooks ---------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}$")
_NUMBER = re.compile(r"^(?:0|[1-9]\d{0,14})(?:\.\d+)?$")


def _workbook(
    path: Path,
    sheets: list[tuple[str, Path]],
    *,
    constant_memory: bool = False,
    start: tuple[int, int] = (0, 0),
    extra: dict[str, list[list[Any]]] | None = None,
) -> Path:
    """A workbook of CSV files, one sheet each, as a trust's export writes it: on every other
    row dates, times and numbers typed as Excel types them, on the rest as text; a blank row
    inside. ``constant_memory`` writes every string inline, as streaming writers do."""
    import csv
    import datetime as dt

    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    time = book.add_format({"num_format": "hh:mm"})
    for name, rows in (extra or {}).items():
        sheet = book.add_worksheet(name)
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                sheet.write(r, c, value)
    for name, source in sheets:
        sheet = book.add_worksheet(name)
        with source.open(newline="", encoding="utf-8") as fh:
            records = list(csv.reader(fh))
        top, left = start
        out = 0
        for r, values in enumerate(records):
            if r == 3:
                out += 1  # a blank row, kept so that row numbers stay Excel's
            for c, value in enumerate(values):
                at = (top + r + out, left + c)
                typed = r % 2 == 1
                if value == "":
                    continue
                if typed and _DATE.match(value):
                    try:
                        sheet.write_datetime(*at, dt.datetime.fromisoformat(value), date)
                        continue
                    except ValueError:
                        pass
                if typed and _TIME.match(value) and int(value[:2]) < 24 and int(value[3:]) < 60:
                    hours, minutes = int(value[:2]), int(value[3:])
                    sheet.write_datetime(*at, dt.time(hours, minutes), time)
                elif typed and _NUMBER.match(value) and c > 2:
                    sheet.write_number(*at, float(value))
                else:
                    sheet.write_string(*at, value)
    book.close()
    return path


def test_workbooks_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """Workbooks written from the CSV examples: sheets named in the common forms, in the
    provider's own words through its profile, beside other sheets, written with inline strings,
    and not starting at A1; each read by the page as the CLI reads it."""
    bad = examples_root() / "known-bad/RY1"
    death, activity = bad / "RY1_2027-10_death.csv", bad / "RY1_2027-10_activity.csv"
    clean = sorted((examples_root() / "RZ1").glob("RZ1_*_death.csv"))[0]
    clean_activity = clean.with_name(clean.name.replace("death", "activity"))
    version = next(v for v, files in SUBMISSIONS if clean in files)
    cases = [
        ("common.xlsx", [("Deaths", death), ("Activity records", activity)], {}),
        ("one-sheet.xlsx", [("death-data", death)], {}),
        ("inline.xlsx", [("DEATH", death), ("activity", activity)], {"constant_memory": True}),
        (
            "with-readme.xlsx",
            [("Deaths", death), ("Activities", activity)],
            {"extra": {"README": [["Exported", "2027-11-02"], ["By", "Informatics"]]}},
        ),
        ("offset.xlsx", [("Deaths", death)], {"start": (2, 2)}),
    ]
    for name, sheets, options in cases:
        book = _workbook(tmp_path / name, sheets, **options)
        _same("1.1.0", [book], pages)
    # A sheet starting at C3: its findings name the sheet's own columns and rows, two right of
    # and two below those of the same sheet starting at A1.
    placed = [
        (f["rule_id"], f["row"], f["column"])
        for name in ("one-sheet.xlsx", "offset.xlsx")
        for f in _cli("1.1.0", [tmp_path / name], None)["findings"]
        if f["column"] is not None
    ]
    half = len(placed) // 2
    assert half and placed[half:] == [
        (rule, None if row is None else row + 2, column_letter(_column_number(column) + 1))
        for rule, row, column in placed[:half]
    ]
    clean_book = _workbook(
        tmp_path / "clean.xlsx", [("Deaths", clean), ("Activity", clean_activity)]
    )
    _same(version, [clean_book], pages, forced=False)
    # Sheets in the trust's own words, mapped by its profile (names stripped as Python strips).
    own = _workbook(
        tmp_path / "own.xlsx", [("Trust deaths \u0085", death), ("\u3000Contacts", activity)]
    )
    profile = tmp_path / "RY1.yaml"
    profile.write_text(
        "provider: RY1\nname: Westmoor\nsheets: {' trust deaths': death, CONTACTS: activity}\n"
    )
    _same("1.1.0", [own], pages, profile)
    _same("1.1.0", [own], pages)  # without it, no table is found


def test_workbook_values_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """Cells the CLI reads in its own way: numbers past nine decimals, huge and tiny, booleans,
    errors, formulas, dates and times typed in several formats, text and headers padded with
    spaces and with other blanks."""
    import datetime as dt

    import xlsxwriter

    source = examples_root() / "known-bad/RY1/RY1_2027-10_death.csv"
    header, *lines = source.read_text().splitlines()
    fields = header.split(",")
    path = tmp_path / "RY1_2027-10_death.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Deaths")
    formats = {
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "d/m/yy h:mm"}),
        "time": book.add_format({"num_format": "[$-409]h:mm AM/PM"}),
        "duration": book.add_format({"num_format": "[h]:mm:ss"}),
        "number": book.add_format({"num_format": "0.00"}),
        "text": book.add_format({"num_format": "@"}),
    }
    odd: list[Any] = [
        1 / 3,
        0.0009765625,
        0.0029296875,
        1e20,
        12345678901234567890,
        -1e-12,
        2.5e-9,
        True,
        False,
        ("formula", "=1/0", "#DIV/0!"),
        ("formula", '="M"&"1"', "M1"),
        ("date", dt.datetime(2027, 4, 12, 13, 45, 30, 500000)),
        ("datetime", dt.datetime(2027, 10, 3, 0, 0)),
        ("time", dt.time(23, 59, 59, 999999)),
        ("duration", 1.25),
        ("date", 59),
        ("date", 60),
        ("number", 7),
        ("text", " 42 "),
        "  padded  ",
        "",
        # Trimmed of Rust's white space (NEL too, not a byte-order mark), as polars does.
        "\u00a0M\u00a0",
        "\ufeff1",
        "2\u0085",
        "\u30001\u3000",
        "\u2003",
        " \u00a0N\u00a0 ",
    ]
    pads = {7: "\ufeff", 8: "\u0085", 9: "\u00a0"}
    for c, name in enumerate(fields):
        sheet.write_string(0, c, pads.get(c, "") + name)
    for r, line in enumerate(lines, start=1):
        for c, value in enumerate(line.split(",")):
            if value:
                sheet.write_string(r, c, value)
    for i, value in enumerate(odd):
        at = (1 + i % len(lines), (5 + i * 3) % len(fields))
        if isinstance(value, tuple) and value[0] == "formula":
            sheet.write_formula(*at, value[1], None, value[2])
        elif isinstance(value, tuple) and isinstance(value[1], dt.datetime | dt.time):
            sheet.write_datetime(*at, value[1], formats[value[0]])
        elif isinstance(value, tuple):
            sheet.write(*at, value[1], formats[value[0]])
        else:
            sheet.write(*at, value)
    book.close()
    activity = examples_root() / "known-bad/RY1/RY1_2027-10_activity.csv"
    assert _cli("1.1.0", [path, activity], None)["findings"]  # read, not refused
    _same("1.1.0", [path, activity], pages)


def test_workbook_limits_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """A sheet used past the column limit, or past the cell limit (a stray value far below the
    data), is refused with the CLI's sentence and its figures, before the sheet is read."""
    import xlsxwriter

    death = examples_root() / "known-bad/RY1/RY1_2027-10_death.csv"
    lines = [line.split(",") for line in death.read_text().splitlines()]
    for name, stray in (
        ("wide.xlsx", (5, DEFAULT_LIMITS.columns + 199)),
        ("tall.xlsx", (499_999, 3)),
    ):
        path = tmp_path / name
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet("Deaths")
        for r, values in enumerate(lines):
            for c, value in enumerate(values):
                if value:
                    sheet.write_string(r, c, value)
        sheet.write_string(*stray, "x")
        book.close()
        _same("1.1.0", [path], pages)


def test_damaged_workbooks_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """A workbook that is not one, or is cut short, gets the CLI's one sentence."""
    import zipfile

    activity = examples_root() / "known-bad/RY1/RY1_2027-10_activity.csv"
    death = examples_root() / "known-bad/RY1/RY1_2027-10_death.csv"
    whole = _workbook(tmp_path / "whole.xlsx", [("Deaths", death)]).read_bytes()
    damaged = {
        "misnamed.xlsx": death.read_bytes(),
        "cut.xlsx": whole[: len(whole) // 2],
        "not-a-workbook.xlsx": b"",
    }
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    damaged["not-a-workbook.xlsx"] = plain.read_bytes()
    for name, data in damaged.items():
        path = tmp_path / "damaged" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        _same("1.1.0", [activity, path], pages)


def test_findings_csv_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """The findings the page downloads are the CLI's findings.csv, byte for byte (a value that
    would be a formula, commas, quotes and groups included)."""
    from mhdeaths.validate.render import to_csv

    bad = examples_root() / "known-bad/RY1"
    files = [bad / "RY1_2027-11_activity.csv", bad / "RY1_2027-11_death.csv"]
    shown, problem = pages.validate("1.1.0", files)
    assert problem is None and shown is not None
    page = pages.page("1.1.0")
    with page.expect_download() as caught:
        page.click("#download-csv")
    download = caught.value
    expected = to_csv(validate(files, spec_version="1.1.0").report).encode("utf-8-sig")
    assert download.suggested_filename == "RY1_2027-11.findings.csv"
    assert Path(download.path()).read_bytes() == expected


_SHAPE = """(html) => {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const text = (el) => el.textContent.replace(/\\s+/g, " ").trim();
  return {
    title: doc.title,
    style: doc.querySelector("style")?.textContent ?? null,
    scripts: doc.querySelectorAll("script").length,
    text: text(doc.body),
    shape: [...doc.body.querySelectorAll("*")].map(
      (el) => `${el.tagName} ${el.className} ${el.id} ${el.getAttribute("href") ?? ""}`
    ),
  };
}"""


def test_html_report_as_the_cli(pages: Pages, tmp_path: Path) -> None:
    """The report the page shows and downloads is the CLI's HTML report: the same title, style,
    text and elements, for a rejected submission (with derogations and notes) and a clean one."""
    from mhdeaths.validate.render import to_html

    bad = examples_root() / "known-bad/RY1"
    clean = sorted((examples_root() / "RZ1").glob("RZ1_*_death.csv"))[0]
    clean_files = [clean.with_name(clean.name.replace("death", "activity")), clean]
    version = next(v for v, files in SUBMISSIONS if clean in files)
    cases = [
        ("1.1.0", [bad / "RY1_2027-11_activity.csv", bad / "RY1_2027-11_death.csv"]),
        (version, clean_files),
    ]
    for spec_version, files in cases:
        shown, problem = pages.validate(spec_version, files)
        assert problem is None and shown is not None
        page = pages.page(spec_version)
        with page.expect_download() as caught:
            page.click("#download-html")
        downloaded = Path(caught.value.path()).read_text(encoding="utf-8")
        expected = to_html(validate(files, spec_version=spec_version).report)
        ours, theirs = page.evaluate(_SHAPE, downloaded), page.evaluate(_SHAPE, expected)
        assert ours == theirs
        assert theirs["scripts"] == 0 and "Verdict" in theirs["text"]
        # What the page shows is the same report.
        body = page.evaluate("document.getElementById('report').textContent")
        assert " ".join(body.split()) == theirs["text"]


SCREENSHOT = Path(__file__).resolve().parents[2] / "out" / "docs" / "validator-page.png"
"""Where the test draws the page as a provider sees it; docs/img/validator-page.png, shown in
the providers' guide, is a copy taken once (a picture is not compared pixel by pixel: fonts and
the browser's version move it)."""


def test_page_as_a_provider_sees_it(pages: Pages) -> None:
    """The page with a rejected submission checked: the picture in the providers' guide."""
    bad = examples_root() / "known-bad/RY1"
    shown, _ = pages.validate(
        "1.1.0", [bad / "RY1_2027-10_activity.csv", bad / "RY1_2027-10_death.csv"]
    )
    assert shown is not None and shown["verdict"] == "rejected"
    page = pages.page("1.1.0")
    page.set_viewport_size({"width": 1100, "height": 900})
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
    guide = (Path(__file__).resolve().parents[2] / "docs" / "providers.md").read_text()
    assert "img/validator-page.png" in guide


def test_opened_from_disk_says_how_to_open_it(browser: Browser, tmp_path: Path) -> None:
    """Opened straight from disk, a browser runs no module and starts no worker: the page says
    so in a sentence, rather than wait for ever."""
    write_validator_page(load_spec("1.1.0"), tmp_path)
    page = browser.new_page()
    page.goto((tmp_path / "validator" / "index.html").as_uri())
    page.wait_for_selector("body[data-state=broken]", state="attached", timeout=30_000)
    said = page.text_content("#problem") or ""
    assert said.startswith("This page cannot check files when it is opened from a disk")
    page.close()


def test_a_file_too_large_for_the_page_is_refused(pages: Pages, tmp_path: Path) -> None:
    """A file larger than a browser tab can check is refused at once, with where to check it,
    and the page keeps working (a million records once ran the tab out of memory)."""
    from mhdeaths.limits import bytes_text
    from mhdeaths.validate.page import PAGE_FILE_SIZE, TOO_LARGE

    big = tmp_path / "RY1_2027-11_death.csv"
    with big.open("wb") as fh:
        fh.truncate(PAGE_FILE_SIZE + 1)
    shown, problem = pages.validate("1.1.0", [big])
    assert shown is None
    assert problem == TOO_LARGE.format(
        file=big.name, size=bytes_text(PAGE_FILE_SIZE + 1), limit=bytes_text(PAGE_FILE_SIZE)
    )
    bad = examples_root() / "known-bad/RY1"
    shown, problem = pages.validate("1.1.0", [bad / "RY1_2027-11_death.csv"])
    assert problem is None and shown is not None


def test_a_file_too_large_to_parse_is_refused(pages: Pages, tmp_path: Path) -> None:
    """A workbook, or a CSV file that is not plain (read in JavaScript, not by DuckDB's reader),
    has a smaller limit, with a sentence of its own, checked before the file is parsed."""
    from mhdeaths.limits import bytes_text
    from mhdeaths.validate.page import PAGE_PARSED_SIZE, TOO_LARGE_PARSED

    size = PAGE_PARSED_SIZE + 1
    book = tmp_path / "book" / "RY1_2027-11_death.xlsx"
    book.parent.mkdir()
    with book.open("wb") as fh:
        fh.write(b"PK\x03\x04")
        fh.truncate(size)
    death = (examples_root() / "known-bad/RY1/RY1_2027-11_death.csv").read_text()
    header, first, *_ = death.splitlines()
    filler = "\n".join([first.replace(",", ',"a\nb",', 1)] + [first] * (size // len(first)))
    across = tmp_path / "across" / "RY1_2027-11_death.csv"
    across.parent.mkdir()
    across.write_text((header + "\n" + filler)[:size])
    for path in (book, across):
        shown, problem = pages.validate("1.1.0", [path])
        assert shown is None
        assert problem == TOO_LARGE_PARSED.format(
            file=path.name, size=bytes_text(size), limit=bytes_text(PAGE_PARSED_SIZE)
        )
