"""The data dictionary of a spec version, as Markdown (for the docs site) and as HTML.

The dictionary is what providers, analysts and the standards board read: every table, field, code
list, rule and agreed definition, each with a stable anchor so validation reports and the change
log can link to it. Both files are rendered from one view of the spec so they cannot disagree; the
HTML is self-contained (inline CSS, no scripts, nothing fetched) because it must open from a
shared drive on a locked-down NHS desktop with the network unplugged (USERS.md §5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mhdeaths.output.templating import html_environment, text_environment, tidy
from mhdeaths.output.writing import write_text
from mhdeaths.spec import (
    CodeList,
    Definition,
    ExampleRecord,
    Examples,
    Mandation,
    Rule,
    Spec,
    SpecField,
    Table,
)
from mhdeaths.standard.publish.common import (
    IDENTIFIER_NOTE,
    MANDATION_LETTERS,
    MANDATION_MEANINGS,
    SEVERITY_WORDS,
    code_list_of,
    presence_note,
    range_text,
)


def table_anchor(table: str) -> str:
    return f"table-{table}"


def field_anchor(table: str, field: str) -> str:
    return f"field-{table}-{field}"


def code_list_anchor(name: str) -> str:
    return f"code-list-{name}"


def rule_anchor(rule_id: str) -> str:
    return f"rule-{rule_id}"


def definition_anchor(name: str) -> str:
    return f"definition-{name}"


@dataclass(frozen=True)
class FieldView:
    """One field with what the dictionary shows beside its own attributes."""

    field: SpecField
    table: str
    code_list: CodeList | None
    range: str | None

    @property
    def anchor(self) -> str:
        return field_anchor(self.table, self.field.name)

    @property
    def mandation(self) -> str:
        return f"{MANDATION_LETTERS[self.field.mandation]} ({self.field.mandation.value})"

    @property
    def meaning(self) -> str:
        return MANDATION_MEANINGS[self.field.mandation]


@dataclass(frozen=True)
class TableView:
    table: Table
    fields: tuple[FieldView, ...]
    rules: tuple[RuleView, ...]
    definitions: tuple[Definition, ...]
    presence: str | None = None
    """For an optional table: what leaving it out means (``presence_note``)."""

    @property
    def anchor(self) -> str:
        return table_anchor(self.table.name)


@dataclass(frozen=True)
class RuleView:
    rule: Rule
    example: tuple[str, ...]
    counterexample: tuple[str, ...]

    @property
    def anchor(self) -> str:
        return rule_anchor(self.rule.id)

    @property
    def severity(self) -> str:
        return SEVERITY_WORDS[self.rule.severity]


@dataclass(frozen=True)
class CodeListView:
    code_list: CodeList
    used_by: tuple[FieldView, ...]

    @property
    def anchor(self) -> str:
        return code_list_anchor(self.code_list.name)


@dataclass(frozen=True)
class AttributionExampleView:
    title: str
    explanation: str | None
    lines: tuple[str, ...]
    """The example's other entries (its records, who the death is attributed to), one per line."""


def attribution_example(example: dict[str, Any]) -> AttributionExampleView:
    # The attribution examples are free-form mappings in the spec; name, title and explanation
    # are the entries the definitions' worked examples also have, so they are shown the same way.
    rest = {k: v for k, v in example.items() if k not in {"name", "title", "explanation"}}
    return AttributionExampleView(
        title=str(example.get("title") or example.get("name") or "Example"),
        explanation=example.get("explanation"),
        lines=tuple(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in rest.items()),
    )


def record_text(record: ExampleRecord | dict[str, Any]) -> str:
    """A record as one line of JSON: exact about text versus empty, and readable by anyone."""
    return json.dumps(record, ensure_ascii=False)


def example_lines(examples: Examples) -> tuple[str, ...]:
    if isinstance(examples, dict):
        # A cross-table example: records per table, each line saying which table it is from.
        lines = tuple(f"{t}: {record_text(r)}" for t, records in examples.items() for r in records)
    else:
        lines = tuple(record_text(r) for r in examples)
    # An empty file is itself an example (of a rule that a file must hold records).
    return lines or ("(no records)",)


def dictionary_context(spec: Spec) -> dict[str, Any]:
    """Everything both templates show, computed once so the two files cannot disagree."""
    tables = []
    for table in spec.tables:
        fields = tuple(
            FieldView(
                field=f, table=table.name, code_list=code_list_of(spec, f), range=range_text(f)
            )
            for f in table.fields
        )
        rules = tuple(
            RuleView(
                rule=r,
                example=example_lines(r.example),
                counterexample=example_lines(r.counterexample),
            )
            for r in spec.rules_for(table.name)
        )
        tables.append(
            TableView(
                table=table,
                fields=fields,
                rules=rules,
                definitions=tuple(spec.definitions_for(table.name)),
                presence=presence_note(spec, table),
            )
        )
    code_lists = tuple(
        CodeListView(
            code_list=c,
            used_by=tuple(f for t in tables for f in t.fields if f.field.code_list == c.name),
        )
        for c in spec.code_lists
    )
    return {
        "spec": spec,
        "tables": tuple(tables),
        "code_lists": code_lists,
        "definitions": spec.definitions,
        "attribution": spec.attribution,
        "attribution_examples": tuple(
            attribution_example(w)
            for w in (spec.attribution.worked_examples if spec.attribution else ())
        ),
        "mandations": [(MANDATION_LETTERS[m], m.value, MANDATION_MEANINGS[m]) for m in Mandation],
        "identifier_note": IDENTIFIER_NOTE,
        "anchors": {
            "table": table_anchor,
            "code_list": code_list_anchor,
            "rule": rule_anchor,
            "definition": definition_anchor,
        },
        "record_text": record_text,
    }


def render_markdown(spec: Spec) -> str:
    template = text_environment().get_template("data-dictionary.md.j2")
    return tidy(template.render(**dictionary_context(spec)))


def render_html(spec: Spec) -> str:
    template = html_environment().get_template("data-dictionary.html.j2")
    return tidy(template.render(**dictionary_context(spec)))


def write_data_dictionary(spec: Spec, out: Path) -> list[Path]:
    return [
        write_text(out / "data-dictionary.md", render_markdown(spec)),
        write_text(out / "data-dictionary.html", render_html(spec)),
    ]
