"""What a rule looks at, by kind: one field's own value, or more than that.

Other people's tools (Table Schema, Great Expectations, pandera) state checks on one column at a
time; a rule that compares fields, records or tables, or that reads the file's columns, has no
counterpart in them. Each published artefact and the pandera schema decide what they can state
from this one classification, so they cannot disagree on what a rule is, and each lists by id
what it leaves to the validator.
"""

from __future__ import annotations

from enum import StrEnum

from mhdeaths.spec.model import Rule, Scope, Spec

#: The check templates whose failure makes a value invalid (the DQMI "validity" measure), for
#: both the validator (``validate.evaluation``) and the page (``engines.check_sql``).
VALIDITY_CHECKS = frozenset({"type", "code_list", "pattern", "range", "max_length"})


class RuleKind(StrEnum):
    FIELD = "field"
    """One field's own value: its type, pattern, code list, range, length, or whether it is given."""
    CROSS_FIELD = "cross_field"
    """Several values of one record (a dated code list reads the record's date or the period)."""
    CROSS_RECORD = "cross_record"
    """Records compared with one another, or the file as a whole (duplicates, one period)."""
    CROSS_TABLE = "cross_table"
    """A table's records against another table's."""
    FILE = "file"
    """The file's columns: missing, unknown or repeated headers."""


#: The words each kind is described by where an artefact lists the rules it cannot state.
KIND_WORDS: dict[RuleKind, str] = {
    RuleKind.FIELD: "one field's own value",
    RuleKind.CROSS_FIELD: "several fields of one record (or a code valid only in some periods)",
    RuleKind.CROSS_RECORD: "records compared with one another, or the whole file",
    RuleKind.CROSS_TABLE: "one table's records against another's",
    RuleKind.FILE: "the file's columns (missing, unknown or repeated headers)",
}


def rule_kind(spec: Spec, rule: Rule) -> RuleKind:
    """The kind of ``rule``: what it must see besides one field's value, if anything."""
    match rule.scope:
        case Scope.STRUCTURE:
            return RuleKind.FILE
        case Scope.CROSS_TABLE:
            return RuleKind.CROSS_TABLE
        case Scope.TABLE:
            return RuleKind.CROSS_RECORD
    if rule.generated_from is not None and len(rule.fields) == 1:
        # A code list with dated codes is valid per reporting period (or per the record's own
        # date): the same value passes in one file and fails in another.
        if rule.generated_from == "code_list" and rule.code_list and _dated(spec, rule.code_list):
            return RuleKind.CROSS_FIELD
        return RuleKind.FIELD
    # Imported here: the spec package is imported where no expression is read (mhdeaths
    # --version), and the language brings polars.
    from mhdeaths import language as ex

    expression = ex.parse(rule.expression)
    if any(isinstance(n, ex.Call) and n.over is not None for n in expression.tree.walk()):
        return RuleKind.CROSS_RECORD
    if len(ex.columns_by_table(expression)) > 1:
        return RuleKind.CROSS_TABLE
    return RuleKind.CROSS_FIELD


def _dated(spec: Spec, code_list: str) -> bool:
    return any(c.valid_from or c.valid_to for c in spec.code_list(code_list).codes)
