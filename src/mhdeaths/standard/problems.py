"""Every kind of problem ``mhdeaths spec check`` reports, each with a closed id: the one catalogue.

The checks report ``add(where, id, **values)``, never a sentence of their own, so the sentences
are written once, here; the id stays on the ``Problem`` as data, and the reference page of
problems is generated from this list.
"""

from __future__ import annotations

from mhdeaths.errors import Catalogue, ProblemKind

_K = ProblemKind

SPEC_PROBLEMS = Catalogue(
    "spec-check problems",
    [
        # --- code lists and fields
        _K("spec/code-listed-twice", "A code listed twice", "code {code!r} is listed twice."),
        _K(
            "spec/code-ends-before-start",
            "A code that ends before it starts",
            "code {code!r} ends before it starts.",
        ),
        _K(
            "spec/field-defined-twice",
            "A field defined twice",
            "field {field!r} is defined more than once.",
        ),
        _K(
            "spec/key-not-a-field",
            "A key field that is not a field",
            "key field {field!r} is not a field of the table.",
        ),
        _K(
            "spec/no-main-table",
            "Every table optional",
            "every table is optional, so no submission could be read; a submission needs at "
            "least one table that is not optional.",
        ),
        _K(
            "spec/optional-table-without-parent",
            "An optional table that belongs to no main table",
            "the table is optional, but no main table's key is part of its key, so nothing "
            "says which records it belongs to.",
        ),
        _K(
            "spec/optional-table-needs-records",
            "An optional table that must hold records",
            "rule {rule!r} fails on a table with no records, but the table is optional: a "
            "submission leaving its file out would pass where one sending only its header "
            "fails.",
        ),
        _K(
            "spec/code-list-missing",
            "A missing code list",
            "refers to code list {code_list!r}, which is missing.",
        ),
        _K(
            "spec/field-later-than-version",
            "A field introduced after its version",
            "says it was introduced in {since}, after this version.",
        ),
        _K(
            "spec/derivation-missing",
            "A derivation that is not a definition",
            "is derived by {definition!r}, which is not a definition.",
        ),
        _K(
            "spec/boolean-submitted",
            "A submitted boolean field",
            "is boolean, which only derived fields may be; submit a Y/N code instead.",
        ),
        _K(
            "spec/dated-by-not-a-field",
            "A field dated by an unknown field",
            "is dated by {dated_by!r}, which is not a field of {table}.",
        ),
        _K(
            "spec/dated-by-not-a-date",
            "A field dated by a field that is not a date",
            "is dated by {dated_by!r}, which is not a date field.",
        ),
        _K(
            "spec/dated-by-without-code-list",
            "A dated field without a code list",
            "is dated by {dated_by!r} but has no code list whose codes the date could choose.",
        ),
        _K("spec/example-missing", "A field without an example", "has no example value."),
        _K(
            "spec/example-not-a-code",
            "An example that is not a code",
            "example {example!r} is not a code of {code_list}.",
        ),
        # --- expressions
        _K(
            "spec/expression-invalid",
            "An expression outside the language",
            "{error}",
        ),
        _K(
            "spec/expression-unknown-table",
            "An expression naming an unknown table",
            "the expression names table {table!r}, which the spec does not have.",
        ),
        _K(
            "spec/expression-unknown-field",
            "An expression naming an unknown field",
            "the expression names {column!r}, which is not a field of {table}.",
        ),
        # --- rules
        _K("spec/rule-id-twice", "A rule id used twice", "the rule id is used more than once."),
        _K(
            "spec/rule-unknown-table",
            "A rule of an unknown table",
            "belongs to table {table!r}, which the spec does not have.",
        ),
        _K(
            "spec/rule-unknown-field",
            "A rule listing an unknown field",
            "lists field {field!r}, which is not a field of {table}.",
        ),
        _K(
            "spec/record-rule-aggregates",
            "A record rule that aggregates",
            "is a record rule but its expression aggregates; make it a table rule.",
        ),
        _K(
            "spec/table-rule-does-not-aggregate",
            "A table rule that does not aggregate",
            "is a {scope} rule but its expression does not aggregate.",
        ),
        _K(
            "spec/group-by-unknown-field",
            "Grouping by an unknown field",
            "groups by {key!r}, which is not a field of {table}.",
        ),
        _K(
            "spec/example-fails",
            "A valid example that fails its rule",
            "its own valid example fails it.",
        ),
        _K(
            "spec/counterexample-passes",
            "A counterexample that passes its rule",
            "its counterexample passes it, so the rule could never fail as written.",
        ),
        _K(
            "spec/examples-not-evaluable",
            "Examples that cannot be evaluated",
            "its examples cannot be evaluated: {error}",
        ),
        _K(
            "spec/rule-id-reused",
            "A rule id reused with a new meaning",
            "the id is reused with a new meaning (its expression, fields or scope differ from "
            "version {version}); give the changed rule a new id and retire this one.",
        ),
        _K(
            "spec/rule-id-retired",
            "A retired rule id used again",
            "the id was retired in {version} and must not be used again.",
        ),
        # --- definitions and attribution
        _K(
            "spec/definition-not-a-field",
            "A definition deriving no field",
            "derives {name!r}, which is not a field of {table}.",
        ),
        _K(
            "spec/worked-example-not-evaluable",
            "A worked example that cannot be evaluated",
            "worked example {example} cannot be evaluated: {error}",
        ),
        _K(
            "spec/worked-example-wrong",
            "A worked example deriving another value",
            "worked example {example} derives {field} = {got!r}, but it says {expected!r}.",
        ),
        _K(
            "spec/attribution-missing",
            "A dataset version with no attribution",
            "has no attribution in definitions.yaml: a dataset must say how a death reported "
            "twice is counted once.",
        ),
        _K(
            "spec/attribution-order-unknown-field",
            "Attribution ordering by an unknown field",
            "orders by {column!r}, which is not a field of death.",
        ),
        _K(
            "spec/attribution-match-unknown-field",
            "Attribution matching on an unknown field",
            "matches on {field!r}, which is not a field of death.",
        ),
        _K(
            "spec/attribution-example-wrong",
            "An attribution example choosing another provider",
            "worked example {example} attributes the death to {chosen}, but it says {expected}.",
        ),
        # --- the change log
        _K(
            "spec/change-other-version",
            "The change entry of another version",
            "is the entry of version {entry}, not {version}.",
        ),
        _K(
            "spec/change-bump-unknown",
            "A bump that is not major, minor or patch",
            "bump {bump!r} is not major, minor or patch.",
        ),
        _K(
            "spec/change-status-unknown",
            "An unknown status",
            "status {status!r} is not draft, approved, effective or retired.",
        ),
        _K(
            "spec/change-added-rule-missing",
            "An added rule the version does not have",
            "lists {rule!r} as added, but the version has no such rule.",
        ),
        _K(
            "spec/change-retired-rule-present",
            "A retired rule the version still has",
            "lists {rule!r} as retired, but the version still has it.",
        ),
        _K(
            "spec/change-new-rule-unlisted",
            "A new rule not listed as added",
            "rule {rule} is new since {previous} but is not listed in rules_added.",
        ),
        _K(
            "spec/change-gone-rule-unlisted",
            "A rule gone but not listed as retired",
            "rule {rule} of {previous} is gone but is not listed in rules_retired.",
        ),
        _K(
            "spec/change-not-later",
            "Taking effect no later than the version before",
            "takes effect from {effective_from}, not after {previous} ({previous_from}).",
        ),
        _K(
            "spec/change-wrong-bump",
            "A bump the version numbers do not make",
            "says the bump is {bump}, but {previous} to {version} is {declared}.",
        ),
        # --- released versions
        _K(
            "spec/released-unrecorded",
            "Released without recorded checksums",
            "says released, but no checksums are recorded in released.yaml.",
        ),
        _K(
            "spec/released-file-removed",
            "A file removed from a released version",
            "a file of this released version has been removed.",
        ),
        _K(
            "spec/released-file-added",
            "A file added to a released version",
            "a file has been added to this released version.",
        ),
        _K(
            "spec/released-file-changed",
            "A file of a released version changed",
            "this file of a released version has changed; released versions never change.",
        ),
    ],
)
