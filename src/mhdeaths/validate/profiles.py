"""Provider profiles: how one provider's own export maps onto the spec.

Providers export from different patient record systems, with their own column headers, local
codes and date formats. Rather than asking each data team to rewrite its extract, a profile in
``validators/<ODS>.yaml`` says, declaratively, which header is which field, which local code is
which national code, how dates are written, and which rules are temporarily downgraded (a
time-boxed derogation with a reason). No Python lives in a profile.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError

from mhdeaths.errors import UserError
from mhdeaths.paths import default_profiles_dir
from mhdeaths.spec import FieldType, Severity, Spec

# The sentences for a profile that cannot be used (the validator page shows the same ones).
NO_PROFILE = "There is no profile at {path}."
NOT_YAML = "The profile {path} is not valid YAML."
NOT_MAPPING = "The profile {path} is not a mapping of settings."
NOT_VALID = "The profile {path} is not valid: {where}: {problem}."


class ProfileError(UserError):
    """A profile cannot be read, or does not fit the spec."""


class Derogation(BaseModel):
    """A rule downgraded for one provider until a date, with the reason agreed."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rule: str
    severity: Severity = Severity.WARNING
    until: dt.date
    reason: str

    def active(self, on: dt.date) -> bool:
        return on <= self.until


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    provider: str
    name: str
    spec_version: str | None = None
    """The spec version the provider's files are written to, when they do not say."""
    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    """A strftime format for every date field, for example ``%d/%m/%Y``."""
    headers: dict[str, dict[str, str]] = {}
    """Per table: the provider's header -> the spec's field name."""
    sheets: dict[str, str] = {}
    """The provider's sheet name -> the spec's table, for a workbook whose sheets are named in
    the provider's own way (compared ignoring case and spaces at either end)."""
    codes: dict[str, dict[str, str]] = {}
    """Per field: the provider's local code -> the national code."""
    derogations: tuple[Derogation, ...] = ()


def load_profile(path: Path) -> Profile:
    import yaml  # here: a run without a profile does not import it (a twentieth of a small run)

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(NO_PROFILE.format(path=path)) from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ProfileError(NOT_YAML.format(path=path)) from None
    if not isinstance(data, dict):
        raise ProfileError(NOT_MAPPING.format(path=path))
    try:
        return Profile(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(NOT_VALID.format(path=path, where=where, problem=first["msg"])) from None


def profile_for(provider: str, folder: Path | None = None) -> Profile | None:
    """The profile of a provider (by ODS code), if it has one."""
    path = (folder or default_profiles_dir()) / f"{provider}.yaml"
    return load_profile(path) if path.is_file() else None


FIT_PROBLEMS = {
    "table": "headers: {table!r} is not a table of spec {version}.",
    "header": "headers.{table}: {header!r} maps to {field!r}, which is not a submitted field of "
    "{table}.",
    "header_twice": "headers.{table}: more than one header maps to {field!r}.",
    "sheet": "sheets: {sheet!r} maps to {table!r}, which is not a table of spec {version}.",
    "coded": "codes: {field!r} is not a coded field of spec {version}.",
    "code": "codes.{field}: local code {local!r} maps to {code!r}, which is not a code of "
    "{code_list}.",
    "rule": "derogations: {rule!r} is not a rule of spec {version}.",
    "date_format": "date_format: {date_format!r} cannot read back its own dates.",
}
"""Each way a profile may not fit a spec version, as ``check_profile`` says it (the validator page
says the same, from these templates)."""

NOT_FIT = (
    "The profile of {provider} does not fit spec {version}: {problem}{more} Run `mhdeaths profile "
    "check --spec {version}` on it for every problem."
)
NOT_FIT_MORE = " (and {more} more)"


def check_profile(profile: Profile, spec: Spec) -> list[str]:
    """Problems with a profile against a spec version: unknown tables, fields, codes and rules."""
    problems = []
    version = spec.version
    tables = {t.name: t for t in spec.tables}
    for table_name, mapping in profile.headers.items():
        table = tables.get(table_name)
        if table is None:
            problems.append(FIT_PROBLEMS["table"].format(table=table_name, version=version))
            continue
        submitted = {f.name for f in table.submitted_fields}
        targets = list(mapping.values())
        for header, name in mapping.items():
            if name not in submitted:
                problems.append(
                    FIT_PROBLEMS["header"].format(table=table_name, header=header, field=name)
                )
        # In the order they first appear, so that the first problem is the same every run.
        for name in dict.fromkeys(t for t in targets if targets.count(t) > 1):
            problems.append(FIT_PROBLEMS["header_twice"].format(table=table_name, field=name))
    for sheet, table_name in profile.sheets.items():
        if table_name not in tables:
            problems.append(
                FIT_PROBLEMS["sheet"].format(sheet=sheet, table=table_name, version=version)
            )
    coded = coded_fields(spec)
    for field_name, mapping in profile.codes.items():
        code_list = coded.get(field_name)
        if code_list is None:
            problems.append(FIT_PROBLEMS["coded"].format(field=field_name, version=version))
            continue
        valid = set(spec.code_list(code_list).valid_codes())
        for local, national in mapping.items():
            if national not in valid:
                problems.append(
                    FIT_PROBLEMS["code"].format(
                        field=field_name, local=local, code=national, code_list=code_list
                    )
                )
    ids = {r.id for r in spec.rules}
    for d in profile.derogations:
        if d.rule not in ids:
            problems.append(FIT_PROBLEMS["rule"].format(rule=d.rule, version=version))
    if profile.date_format:
        try:
            dt.datetime.strptime(
                dt.date(2027, 4, 12).strftime(profile.date_format), profile.date_format
            )
        except ValueError:
            problems.append(FIT_PROBLEMS["date_format"].format(date_format=profile.date_format))
    return problems


def coded_fields(spec: Spec) -> dict[str, str]:
    """Each field a profile may give local codes for, with its code list (the last table's
    field of a name wins, as a profile's codes apply to the field in every table)."""
    return {f.name: f.code_list for t in spec.tables for f in t.fields if f.code_list}


def require_fit(profile: Profile, spec: Spec) -> None:
    """Refuse a profile that does not fit the spec version the files are checked against, as
    ``mhdeaths profile check`` would: a header mapped to a field the version does not have would
    otherwise be dropped without a word, and its column reported missing."""
    problems = check_profile(profile, spec)
    if problems:
        more = NOT_FIT_MORE.format(more=len(problems) - 1) if len(problems) > 1 else ""
        raise ProfileError(
            NOT_FIT.format(
                provider=profile.provider, version=spec.version, problem=problems[0], more=more
            )
        )


def apply_profile(profile: Profile, spec: Spec, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Rename the provider's headers, translate local codes and rewrite dates as CCYY-MM-DD.

    Values that a map does not know are kept as they are, so the code-list check still reports
    them against the national list.
    """
    mapping = {k: v for k, v in profile.headers.get(table, {}).items() if k in frame.columns}
    frame = frame.rename(mapping)
    spec_table = spec.table(table)
    changes = []
    for f in spec_table.submitted_fields:
        if f.name not in frame.columns:
            continue
        if f.name in profile.codes:
            codes = profile.codes[f.name]
            changes.append(pl.col(f.name).replace(codes).alias(f.name))
        elif f.type is FieldType.DATE and profile.date_format:
            local = pl.col(f.name).str.to_date(profile.date_format, strict=False)
            # A value that is not in the local format is left for the type check to report.
            changes.append(
                pl.when(local.is_not_null())
                .then(local.dt.strftime("%Y-%m-%d"))
                .otherwise(pl.col(f.name))
                .alias(f.name)
            )
    return frame.with_columns(changes) if changes else frame


def to_provider_format(
    profile: Profile, spec: Spec, table: str, frame: pl.DataFrame
) -> pl.DataFrame:
    """The reverse of ``apply_profile``: write a spec-shaped frame the way the provider exports it.

    Used to make example files in a provider's own format; a national code with no local code
    stays national.
    """
    changes = []
    for f in spec.table(table).submitted_fields:
        if f.name not in frame.columns:
            continue
        if f.name in profile.codes:
            local: dict[str, str] = {}
            for local_code, national in profile.codes[f.name].items():
                local.setdefault(national, local_code)
            changes.append(pl.col(f.name).replace(local).alias(f.name))
        elif f.type is FieldType.DATE and profile.date_format:
            changes.append(
                pl.col(f.name)
                .str.to_date("%Y-%m-%d", strict=False)
                .dt.strftime(profile.date_format)
                .alias(f.name)
            )
    if changes:
        frame = frame.with_columns(changes)
    headers = {v: k for k, v in profile.headers.get(table, {}).items()}
    return frame.rename({k: v for k, v in headers.items() if k in frame.columns})
