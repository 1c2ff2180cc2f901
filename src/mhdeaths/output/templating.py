"""The jinja2 environments that the published artefacts and the reports are rendered with.

Spec text (definitions, labels, messages) is written by people and may hold ``<``, ``&``, ``|`` or
``*``. In HTML that must be escaped always, so the HTML environment autoescapes and no template
marks a value safe. Markdown has no autoescape, so its templates pass every value through ``md``
(prose) or ``mdcode`` (code spans), which neutralise both Markdown and the raw HTML that Markdown
renderers let through. The templates are package files, so an installed wheel can publish too.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

#: Characters that start Markdown inline syntax (or raw HTML, or end a table cell) anywhere.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
#: Text at the start of a line that a renderer would read as a heading or a list item.
_MD_BLOCK_START = re.compile(r"^(\s*)([#+-](?=\s|$)|\d{1,9}(?=[.)](?:\s|$)))")


def md(value: object) -> str:
    """Markdown-escape a value shown as prose (one line: a table cell or a paragraph)."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    text = _MD_INLINE.sub(r"\\\1", text)
    match = _MD_BLOCK_START.match(text)
    if match is None:
        return text
    lead, start = match.group(1), match.group(2)
    if start[0].isdigit():
        # "1. " starts a list because of the dot after the number, so the dot is escaped.
        rest = text[match.end() :]
        return f"{lead}{start}\\{rest}"
    return f"{lead}\\{text[len(lead) :]}"


def mdcode(value: object) -> str:
    """A Markdown code span that survives inside a table cell."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    # A space keeps a leading or trailing backtick from merging into the fence.
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    # GFM splits table cells on "|" before it parses code spans, so even here it is escaped.
    return f"{ticks}{pad}{text.replace('|', chr(92) + '|')}{pad}{ticks}"


def tidy(text: str) -> str:
    """End a rendered text file with exactly one newline, whatever the template's last block."""
    return text.rstrip("\n") + "\n"


def fenced(value: object, language: str = "") -> str:
    """A fenced Markdown code block whose fence no line of the value can close."""
    text = "" if value is None else str(value).strip("\n")
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def shown(value: object) -> str:
    """A value as the dictionary shows it in words: empty, true, false or the text itself."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _environment(*, autoescape: bool) -> Environment:
    env = Environment(
        # The spec's artefacts and the reports share one template folder, read without importing
        # any other module of the package (the validator must start quickly).
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=autoescape,
        # A misspelt name in a template must fail the publish, not print an empty cell.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, mdcode=mdcode, fenced=fenced, shown=shown)
    return env


@cache
def html_environment() -> Environment:
    return _environment(autoescape=True)


@cache
def text_environment() -> Environment:
    # Markdown is not HTML: autoescape would litter it with entities, so the md filters escape.
    return _environment(autoescape=False)
