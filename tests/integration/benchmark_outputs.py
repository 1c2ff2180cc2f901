"""Read every published benchmark output back into cells, as a reader (or an attacker) would.

Each reader returns a mapping from a cell's place to what the file shows there: ``None`` for an
empty cell, ``"*"`` for a suppressed one, a float for a number and text for a band. Places are
``("row", indicator, provider, column)``, ``("trend", indicator, provider, year, column)`` and
``("quarter", provider, line)`` for a provider page's counts of the quarter (and its sentinel
events); ``("inequality", measure, group, column)`` for the inequalities section and
``("theme", theme, provider, year, "observed")`` for the recurring-themes table. The HTML report
and the provider pages name their cells in ``data-`` attributes (``data-place`` for the newer
tables: the place itself, ``|``-separated); the funnel plots' points are read from the SVG (their
label, tooltip and position).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl

from mhdeaths.benchmark.disclosure_control import ROW_COLUMNS, TREND_COLUMNS
from mhdeaths.benchmark.inequalities import INEQUALITY_COLUMNS

Place = tuple[str, ...]
Shown = float | str | None

_NOT_CELLS = {"indicator", "window", "provider", "year", "caution", "note"}
ROW_CELLS = tuple(c for c in ROW_COLUMNS if c not in _NOT_CELLS)
TREND_CELLS = tuple(c for c in TREND_COLUMNS if c not in _NOT_CELLS)


def shown(value: Any) -> Shown:
    """A cell as it reads: empty, ``*``, a number, or text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text in ("", "not banded"):
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def _year(value: Any) -> str:
    return str(int(float(value)))


def _table_cells(rows: list[dict[str, Any]], kind: str) -> dict[Place, Shown]:
    cells: dict[Place, Shown] = {}
    columns = ROW_CELLS if kind == "row" else TREND_CELLS
    for row in rows:
        where: Place = (kind, str(row["indicator"]), str(row["provider"]))
        if kind == "trend":
            where += (_year(row["year"]),)
        for column in columns:
            cells[(*where, column)] = shown(row.get(column))
    return cells


INEQUALITY_CELLS = tuple(
    c for c in INEQUALITY_COLUMNS if c not in ("measure", "window", "group", "label", "note")
)


def _section_cells(
    inequalities: list[dict[str, Any]], themes: list[dict[str, Any]]
) -> dict[Place, Shown]:
    """The cells of the inequalities section and the themes table."""
    cells: dict[Place, Shown] = {}
    for row in inequalities:
        for column in INEQUALITY_CELLS:
            cells[("inequality", str(row["measure"]), str(row["group"]), column)] = shown(
                row.get(column)
            )
    for row in themes:
        place = ("theme", str(row["theme"]), str(row["provider"]), str(row["year"]), "observed")
        cells[place] = shown(row.get("observed"))
    return cells


def read_json(out: Path) -> tuple[dict[str, Any], dict[Place, Shown]]:
    document = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))
    cells: dict[Place, Shown] = {}
    for indicator in document["indicators"]:
        cells |= _table_cells(indicator["rows"], "row")
        cells |= _table_cells(indicator["trend"], "trend")
    inequalities, themes = document.get("inequalities"), document.get("themes")
    cells |= _section_cells(
        inequalities["rows"] if inequalities else [], themes["rows"] if themes else []
    )
    return document, cells


def read_csv(out: Path) -> dict[Place, Shown]:
    cells: dict[Place, Shown] = {}
    for name, kind in (("benchmarks.csv", "row"), ("benchmarks-trend.csv", "trend")):
        with (out / name).open(newline="", encoding="utf-8") as handle:
            cells |= _table_cells(list(csv.DictReader(handle)), kind)
    sections = []
    for name in ("benchmarks-inequalities.csv", "benchmarks-themes.csv"):
        with (out / name).open(newline="", encoding="utf-8") as handle:
            sections.append(list(csv.DictReader(handle)))
    return cells | _section_cells(*sections)


def read_xlsx(out: Path) -> dict[Place, Shown]:
    book = openpyxl.load_workbook(out / "benchmarks.xlsx", read_only=True)
    cells: dict[Place, Shown] = {}
    for sheet, kind in (("Providers", "row"), ("Trend", "trend")):
        rows = book[sheet].iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        cells |= _table_cells([dict(zip(header, row, strict=True)) for row in rows], kind)
    sections = []
    for sheet in ("Inequalities", "Themes"):
        rows = book[sheet].iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        sections.append([dict(zip(header, row, strict=True)) for row in rows])
    book.close()
    return cells | _section_cells(*sections)


@dataclass
class Point:
    indicator: str
    provider: str
    title: str = ""
    cx: float = float("nan")
    cy: float = float("nan")


@dataclass
class _Page(HTMLParser):
    cells: dict[Place, Shown] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    not_plotted: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._section = ""
        self._row: Place | None = None
        self._line: str | None = None
        self._columns: list[str] | None = None
        self._text: list[str] = []
        self._point: Point | None = None
        self._in_title = False
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "id" in a:
            self._section = a["id"]
        elif tag == "tr":
            self._row, self._line = None, None
            if "data-indicator" in a:
                self._row = ("trend" if "data-year" in a else "row", a["data-indicator"])
                self._row += (a["data-provider"],)
                if "data-year" in a:
                    self._row += (a["data-year"],)
            elif "data-line" in a:
                self._line = a["data-line"]
            elif "data-place" in a:
                self._row = tuple(a["data-place"].split("|"))
        elif tag == "td":
            if "data-place" in a:
                # A cell that names its whole place (the themes table).
                self._row, self._columns, self._text = (), a["data-place"].split(), []
            elif self._row is not None and "data-column" in a:
                self._columns, self._text = a["data-column"].split(), []
            elif self._line is not None:
                self._columns, self._text = ["line"], []
        elif tag == "g" and "data-provider" in a:
            self._point = Point(self._section, a["data-provider"])
        elif tag == "title" and self._point is not None:
            self._in_title, self._text = True, []
        elif tag == "circle" and self._point is not None:
            self._point.cx, self._point.cy = float(a["cx"]), float(a["cy"])
        elif tag == "figcaption":
            self._in_caption, self._text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._columns is not None:
            self._store(" ".join("".join(self._text).split()))
            self._columns = None
        elif tag == "title" and self._in_title and self._point is not None:
            self._point.title, self._in_title = "".join(self._text), False
        elif tag == "g" and self._point is not None:
            self.points.append(self._point)
            self._point = None
        elif tag == "figcaption" and self._in_caption:
            self.not_plotted[self._section] = "".join(self._text)
            self._in_caption = False
        elif tag == "tr":
            self._row, self._line = None, None

    def handle_data(self, data: str) -> None:
        if self._columns is not None or self._in_title or self._in_caption:
            self._text.append(data)

    def _store(self, text: str) -> None:
        assert self._columns is not None
        if self._line is not None:
            self.cells[("quarter", "", self._line)] = shown(text)
            return
        assert self._row is not None
        if self._row == ():
            self.cells[tuple(self._columns[0].split("|"))] = shown(text)
            self._row = None
            return
        if len(self._columns) == 1:
            values: list[str] = [text]
        elif text in ("", "*", "not banded"):
            values = [text, text]
        elif " to " in text:
            values = text.split(" to ")
        else:  # a provider page's band: "as expected (as expected)"
            first, _, second = text.partition(" (")
            values = [first, second.removesuffix(")")]
        for column, value in zip(self._columns, values, strict=True):
            self.cells[(*self._row, column)] = shown(value)


def read_report(out: Path) -> _Page:
    page = _Page()
    page.feed((out / "benchmarks.html").read_text(encoding="utf-8"))
    return page


def read_provider_pages(out: Path) -> dict[str, _Page]:
    pages = {}
    for path in sorted((out / "providers").glob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        page.cells = {
            (("quarter", path.stem, p[2]) if p[0] == "quarter" else p): v
            for p, v in page.cells.items()
        }
        pages[path.stem] = page
    return pages
