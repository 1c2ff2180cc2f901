"""Loading a spec version from ``spec/<version>/`` into the frozen model.

Loading does only what is needed to build the models: parsing, field-level rule generation from
the spec's own check templates, and the structural errors that make a version unusable. The
deeper self-checks (expressions, examples, cross-version rule ids) live in
``mhdeaths.standard.check`` so that a broken version can still be loaded and reported on.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import semver
from pydantic import ValidationError

from mhdeaths.errors import ExpressionError, SpecError
from mhdeaths.paths import default_spec_root
from mhdeaths.spec.cache import kept_json, kept_spec
from mhdeaths.spec.model import (
    DRAFT,
    Attribution,
    ChangeLogEntry,
    CheckTemplate,
    CodeList,
    Definition,
    FieldType,
    Mandation,
    Rule,
    Scope,
    Spec,
    SpecField,
    Table,
)

if TYPE_CHECKING:
    from mhdeaths import language as ex

# The expression language, and with it polars, is imported where a version is loaded, not with
# this module: listing the versions (``mhdeaths --version``) needs neither.


def parse_version(text: str) -> semver.Version:
    try:
        return semver.Version.parse(text)
    except ValueError:
        raise SpecError(f"{text!r} is not a semantic version such as 1.0.0.") from None


def available_versions(root: Path | None = None) -> list[str]:
    """Every version folder under the spec root, oldest first."""
    root = root or default_spec_root()
    if not root.is_dir():
        raise SpecError(f"There is no spec folder at {root}.")
    found = []
    for child in root.iterdir():
        if child.is_dir() and semver.Version.is_valid(child.name):
            found.append(child.name)
    return sorted(found, key=semver.Version.parse)


def latest_version(root: Path | None = None) -> str:
    """The newest version that is not a draft (the newest draft when every version is one).

    A draft is for consultation and impact assessment: a provider gets it only by naming it
    (``--spec``) or by declaring it in the file, never by default.
    """
    headers = version_headers(root)
    if not headers:
        raise SpecError("The spec folder holds no versions.")
    released = [h.version for h in headers if not h.draft]
    return (released or [h.version for h in headers])[-1]


@dataclass(frozen=True)
class VersionHeader:
    """What a version's ``version.yaml`` says of it, without loading the version: enough to say
    which version is in force for a period and what it accepts."""

    version: str
    draft: bool
    effective_from: str
    accepts_previous: tuple[str, ...]


def version_headers(root: Path | None = None) -> list[VersionHeader]:
    """Every version's header, oldest first (a fortieth of the time of loading them all; kept
    in the cache, under the bytes of the ``version.yaml`` files, with the versions loaded)."""
    root = root or default_spec_root()
    versions = available_versions(root)
    files = [root / version / "version.yaml" for version in versions]
    kept = kept_json(
        "headers", files, lambda: [_header(v, f) for v, f in zip(versions, files, strict=True)]
    )
    return [VersionHeader(v, draft, since, tuple(accepts)) for v, draft, since, accepts in kept]


def _header(version: str, path: Path) -> tuple[str, bool, str, list[str]]:
    head = _read_yaml(path)
    if not isinstance(head, dict):
        raise SpecError(f"The spec file {path} is not a mapping.")
    return (
        version,
        head.get("status") == DRAFT,
        str(head.get("effective_from", "")),
        [str(v) for v in head.get("accepts_previous") or ()],
    )


def _read_yaml(path: Path) -> Any:
    # Imported here: a spec kept in the cache is loaded without it (a twentieth of a small run).
    import yaml

    # libyaml's loader when PyYAML was built with it (its wheels are): several times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=loader)
    except FileNotFoundError:
        raise SpecError(f"The spec file {path} is missing.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"The spec file {path} is not valid YAML{where}.") from None


_CODE_COLUMNS = ("code", "label", "valid_from", "valid_to", "default")


def _read_code_list(path: Path, meta: Mapping[str, Any]) -> dict[str, Any]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = []
    for row in rows:
        codes.append(
            {
                "code": row["code"],
                "label": row["label"],
                "valid_from": row.get("valid_from") or None,
                "valid_to": row.get("valid_to") or None,
                "default": (row.get("default") or "").strip().lower() in {"y", "yes", "true"},
                "maps": {k: v for k, v in row.items() if k not in _CODE_COLUMNS and v},
            }
        )
    return {**meta, "codes": codes}


#: ``{crosswalk:LIST.TARGET(field)}`` in a rule or definition: the field's code in LIST turned
#: into its counterpart in TARGET, by the crosswalk the code list holds as data ('' for a code
#: the list does not hold, or none).
_CROSSWALK = re.compile(r"\{crosswalk:(\w+)\.(\w+)\((\w+)\)\}")


def expand_crosswalks(text: str, code_lists: Mapping[str, CodeList]) -> str:
    """Write each crosswalk of an expression out as a CASE over the code list's own data, so the
    mapping is kept once (in the code list's file) and both engines read the same expression."""
    from mhdeaths.language.parser import quote

    def case(match: re.Match[str]) -> str:
        name, target, field = match.groups()
        if name not in code_lists:
            raise SpecError(f"A crosswalk names the code list {name!r}, which this version lacks.")
        pairs = code_lists[name].crosswalk(target)
        if not pairs:
            raise SpecError(f"The code list {name!r} has no crosswalk to {target!r}.")
        arms = " ".join(f"WHEN {field} = {quote(c)} THEN {quote(t)}" for c, t in pairs.items())
        # '' for a code with no counterpart, never NULL: DuckDB 2.0 folds a CASE (or a nullif)
        # that its column statistics say cannot match into a NULL constant, and then fails to
        # bind a comparison with it. A definition that wants NULL says nullif(..., '').
        return f"(CASE {arms} ELSE '' END)"

    return _CROSSWALK.sub(case, text)


def _expand_template(
    template: CheckTemplate, table: Table, field: SpecField, code_lists: Mapping[str, CodeList]
) -> Rule | None:
    """Make the rule a check template gives one field, or None when it does not apply."""
    if not field.submitted:
        return None
    applies = {
        "all": True,
        "mandatory": field.mandation is Mandation.MANDATORY,
        "required": field.mandation is Mandation.REQUIRED,
        "code_list": field.code_list is not None,
        "pattern": field.pattern is not None,
        "range": field.minimum is not None or field.maximum is not None,
        "max_length": field.max_length is not None and field.type is FieldType.STRING,
        "reference": field.reference,
        "typed": field.type
        in {FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE, FieldType.TIME},
    }
    if template.applies_to not in applies:
        raise SpecError(
            f"Check {template.check!r} applies to {template.applies_to!r}, which is not one of "
            f"{', '.join(sorted(applies))}."
        )
    if not applies[template.applies_to]:
        return None
    values = _template_values(field)
    example_value = field.example
    counter: str | None
    match template.applies_to:
        case "mandatory" | "required":
            counter = None
        case "code_list":
            counter = "~~"
        case "pattern":
            counter = "~"
        case "range":
            counter = str((field.maximum if field.maximum is not None else 0) + 1)
        case "max_length":
            counter = "x" * ((field.max_length or 0) + 1)
        case "reference":
            counter = "CQC 943 476 5919"
        case _:
            counter = f"not a {field.type.value}"
    return Rule(
        id=f"{table.name}.{template.check}.{field.name}",
        table=table.name,
        severity=template.severity,
        scope=Scope.RECORD,
        stage=template.stage,
        fields=(field.name,),
        title=template.title.format(**values),
        message=template.message.format(**values),
        fix=template.fix.format(**values),
        expression=template.expression.format(**values),
        example=({field.name: example_value},),
        counterexample=({field.name: counter},),
        since=field.since,
        generated_from=template.check,
        code_list=field.code_list,
        # Only a check that binds {codes} is dated: the others do not read the code list.
        dated_by=field.dated_by if "{codes}" in template.expression else None,
    )


def _template_values(field: SpecField) -> dict[str, str]:
    """The placeholders a check template may use."""
    from mhdeaths.spec.words import format_in_words

    return {
        "field": field.name,
        "title": field.title,
        "type": field.type.value,
        # In words (CCYY-MM-DD, up to 7 digits), not the Data Dictionary's notation (an10
        # CCYY-MM-DD, max n7): the placeholder is read by data teams in messages and fixes. The
        # notation itself stays in the field's entry and the data dictionary.
        "format": format_in_words(field.format),
        "pattern": (field.pattern or "").replace("'", "''"),
        "min": str(field.minimum),
        "max": str(field.maximum),
        "max_length": str(field.max_length),
        "code_list": field.code_list or "",
        # {codes} is left for the engines: the valid codes depend on the reporting period.
        "codes": "{codes}",
        "example": field.example or "",
    }


def load_spec(version: str | None = None, root: Path | None = None) -> Spec:
    """Load one spec version (the newest that is not a draft when none is named)."""
    root = root or default_spec_root()
    version = version or latest_version(root)
    parse_version(version)
    folder = root / version
    if not folder.is_dir():
        known = ", ".join(available_versions(root)) or "none"
        raise SpecError(f"There is no spec version {version} (known versions: {known}).")
    # A loaded version is kept while none of its files changes (a spec is read many times).
    return _load_cached(folder.resolve(), version, _stamp(folder))


def _stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file of the folder with its modification time and size, in a stable order.

    The loader asks for a version several times per submission (the version accepted for the
    period looks at all of them), so this is made with one ``stat`` per file and ``os.walk``,
    not pathlib's ``rglob``: a third of the time (5 ms to under 2 ms for the three versions)."""
    found = []
    for top, _, names in os.walk(folder, followlinks=True):
        for name in names:
            path = os.path.join(top, name)
            st = os.stat(path)
            if stat.S_ISREG(st.st_mode):
                found.append((Path(path).as_posix(), st.st_mtime_ns, st.st_size))
    return tuple(sorted(found))


@lru_cache(maxsize=32)
def _load_cached(folder: Path, version: str, stamp: tuple[tuple[str, int, int], ...]) -> Spec:
    from mhdeaths import language as ex

    try:
        # Kept between processes too, under the files' bytes (``mhdeaths.spec.cache``), with
        # its expressions parsed.
        spec, parsed = kept_spec(folder, version, lambda: _parsed(_load_folder(folder, version)))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SpecError(
            f"Spec {version} does not load: {where}: {first['msg']} ({exc.error_count()} problem(s))."
        ) from None
    ex.keep(parsed)
    return spec


def _parsed(spec: Spec) -> tuple[Spec, tuple[ex.Expression, ...]]:
    """The spec and the parse of every expression the engines start from: each rule's (with
    ``{codes}`` marked, to be bound to any period's codes), each definition's and each key the
    attribution orders by. One that does not parse is left out (``spec check`` says why)."""
    from mhdeaths import language as ex

    texts = [ex.marked(r.expression) for r in spec.rules]
    texts += [d.expression for d in spec.definitions]
    texts += [k.expression for k in spec.attribution.order_by] if spec.attribution else []
    parsed = []
    for text in dict.fromkeys(texts):
        try:
            parsed.append(ex.parse(text))
        except ExpressionError:
            continue
    return spec, tuple(parsed)


def _load_folder(folder: Path, version: str) -> Spec:
    head = _read_yaml(folder / "version.yaml")
    if str(head.get("version")) != version:
        raise SpecError(
            f"{folder / 'version.yaml'} declares version {head.get('version')}, "
            f"but its folder is named {version}."
        )
    tables = [Table(**_read_yaml(folder / "tables" / f"{name}.yaml")) for name in head["tables"]]
    index = _read_yaml(folder / "codelists" / "index.yaml") or {}
    code_lists = {}
    for name, meta in index.items():
        path = folder / "codelists" / f"{name}.csv"
        if not path.is_file():
            raise SpecError(
                f"Code list {name!r} is listed in codelists/index.yaml but {path} is missing."
            )
        code_lists[name] = CodeList(**_read_code_list(path, {"name": name, **meta}))
    templates = [CheckTemplate(**t) for t in _read_yaml(folder / "checks.yaml")]
    written = [Rule(**_expanded(r, code_lists)) for r in _read_yaml(folder / "rules.yaml")]
    generated = [
        rule
        for template in templates
        for table in tables
        for field in table.fields
        if (rule := _expand_template(template, table, field, code_lists)) is not None
    ]
    defs_doc = _read_yaml(folder / "definitions.yaml")
    definitions = [Definition(**_expanded(d, code_lists)) for d in defs_doc["definitions"]]
    attribution = Attribution(**defs_doc["attribution"]) if defs_doc.get("attribution") else None
    change = ChangeLogEntry(**_read_yaml(folder / "changes.yaml"))
    return Spec(
        version=version,
        title=head["title"],
        status=head["status"],
        published=head["published"],
        effective_from=str(head["effective_from"]),
        accepts_previous=tuple(head.get("accepts_previous") or ()),
        tables=tuple(tables),
        code_lists=tuple(code_lists.values()),
        check_templates=tuple(templates),
        rules=tuple(generated + written),
        definitions=tuple(definitions),
        attribution=attribution,
        change=change,
        path=folder,
        kind=head.get("kind", "dataset"),
        feed=head.get("feed"),
    )


FEEDS_FOLDER = "feeds"
"""The folder of the spec root that holds the national feeds' specs, one folder per feed."""


def feed_roots(root: Path | None = None) -> dict[str, Path]:
    """Each national feed's spec folder (its versions and ``released.yaml``), by feed name.

    A feed folder has the layout of the spec root itself, so every tool that takes a root
    (loading, checking, diffing, releasing, publishing) works on it unchanged; the dataset's
    ``available_versions`` never sees it (``feeds`` is not a version number).
    """
    folder = (root or default_spec_root()) / FEEDS_FOLDER
    if not folder.is_dir():
        return {}
    return {
        child.name: child
        for child in sorted(folder.iterdir())
        if child.is_dir() and any(semver.Version.is_valid(g.name) for g in child.iterdir())
    }


def feed_root(feed: str, root: Path | None = None) -> Path:
    """The spec folder of one national feed; a SpecError naming the known feeds if there is none."""
    roots = feed_roots(root)
    if feed not in roots:
        known = ", ".join(roots) or "none"
        raise SpecError(f"There is no national feed called {feed!r} (known feeds: {known}).")
    return roots[feed]


def load_feed_spec(feed: str, version: str | None = None, root: Path | None = None) -> Spec:
    """Load one version of a national feed's spec (its newest released version by default).

    Refuses a folder that does not declare itself this feed, so a dataset version can never be
    read as a feed, nor one feed as another.
    """
    spec = load_spec(version, feed_root(feed, root))
    if not spec.is_feed or spec.feed != feed:
        raise SpecError(
            f"The spec folder {spec.path} does not declare itself the {feed} feed "
            "(version.yaml: kind: feed, feed: " + feed + ")."
        )
    return spec


def _expanded(entry: dict[str, Any], code_lists: Mapping[str, CodeList]) -> dict[str, Any]:
    text = entry.get("expression")
    if isinstance(text, str) and "{crosswalk:" in text:
        return {**entry, "expression": expand_crosswalks(text, code_lists)}
    return entry


def iter_version_files(folder: Path) -> Iterator[Path]:
    """Every file of a version folder, in a stable order (for checksums)."""
    yield from sorted(p for p in folder.rglob("*") if p.is_file())


def version_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in a version folder, keyed by its path inside the folder."""
    sums = {}
    for path in iter_version_files(folder):
        # Normalise line endings so a checkout with CRLF endings does not look like an edit.
        data = path.read_bytes().replace(b"\r\n", b"\n")
        sums[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return sums
