"""The language's functions as a Markdown table, for spec/README.md, written from the function table.

The README is where the standards team and providers read what an expression may call. A
hand-kept copy of each function's meaning drifted from the code that computes it, so the section
between the two markers below is generated from ``FUNCTIONS`` (signature, types, meaning and the
example both engines are tested on) by ``python -m mhdeaths.docsite``, and a test fails while the
committed section differs from what this module writes.
"""

from __future__ import annotations

import datetime as dt

from mhdeaths.errors import SpecError
from mhdeaths.language.functions import FUNCTIONS, Example, Function, Value
from mhdeaths.output.templating import md, mdcode

BEGIN = (
    "<!-- The function table below is generated from mhdeaths.language.functions; do not edit. "
    "Regenerate with: uv run --frozen python -m mhdeaths.docsite -->"
)
END = "<!-- End of the generated function table. -->"


def shown(value: Value) -> str:
    """A value as an expression would write it (a date as the reader would)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _example_cell(example: Example) -> str:
    cases = [
        mdcode(", ".join(f"{column} = {shown(v)}" for column, v in record.items()))
        + f" → {mdcode(shown(result))}"
        for record, result in zip(example.records, example.expected, strict=True)
    ]
    return f"{mdcode(example.expression)}: " + "; ".join(cases)


def _row(fn: Function) -> str:
    types = ", ".join(t.value for _, t in fn.parameters) + f" → {fn.result.value}"
    return (
        f"| {mdcode(fn.signature)} | {types} | {md(fn.description)} | {_example_cell(fn.example)} |"
    )


def function_table() -> str:
    """The generated section: the markers and, between them, one row per function."""
    lines = [
        BEGIN,
        "",
        "| function | arguments → result | meaning | example |",
        "|---|---|---|---|",
        *(_row(fn) for fn in FUNCTIONS.values()),
        "",
        END,
    ]
    return "\n".join(lines)


def with_function_table(readme: str) -> str:
    """The README with its function table section replaced by the one generated now."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise SpecError(
            "spec/README.md has no function table markers; put the two comment lines of "
            "mhdeaths.language.reference where the table belongs."
        )
    return readme[:start] + function_table() + readme[end + len(END) :]
