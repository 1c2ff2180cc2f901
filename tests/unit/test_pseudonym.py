"""Keyed pseudonyms of NHS numbers: stable, keyed, normalised, and never the number itself."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mhdeaths.engines.sql_engine import register_frame
from mhdeaths.warehouse.pseudonym import (
    DEMO_KEY,
    KEY_ENV,
    KEY_FILE_ENV,
    PADS,
    PseudonymKey,
    PseudonymKeyError,
    load_key,
    normalised_numbers,
    pseudonym,
    pseudonym_pads,
    pseudonym_parameters,
    pseudonym_sql,
    refuse_demo_key_for_real_numbers,
)

KEY = PseudonymKey(b"k" * 40)
OTHER = PseudonymKey(b"j" * 40)


def test_a_pseudonym_is_the_hmac_sha256_of_the_normalised_number() -> None:
    expected = hmac.new(b"k" * 40, b"9434765919", hashlib.sha256).hexdigest()
    assert pseudonym(KEY, "943 476 5919") == pseudonym(KEY, "9434765919") == expected


def test_pseudonyms_depend_on_the_key() -> None:
    assert pseudonym(KEY, "9434765919") != pseudonym(OTHER, "9434765919")


@given(st.from_regex(r"\A[0-9]{10}\Z"))
def test_a_pseudonym_never_contains_the_number(number: str) -> None:
    value = pseudonym(KEY, number)
    assert value is not None and len(value) == 64 and number not in value


def test_empty_and_malformed_numbers_have_no_pseudonym() -> None:
    assert pseudonym(KEY, None) is None
    assert pseudonym(KEY, "12345") is None
    assert pseudonym(KEY, "94347659AB") is None


def test_a_column_is_pseudonymised_number_by_number() -> None:
    column = pl.Series("nhs_number", ["9434765919", None, "943 476 5919", "9434765870"])
    assert _in_duckdb(KEY, column) == [
        pseudonym(KEY, "9434765919"),
        None,
        pseudonym(KEY, "9434765919"),
        pseudonym(KEY, "9434765870"),
    ]


def test_the_key_comes_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    path = tmp_path / "key"
    path.write_text("s" * 40 + "\n")
    path.chmod(0o600)
    assert load_key(path).secret == b"s" * 40
    monkeypatch.setenv(KEY_FILE_ENV, str(path))
    assert load_key().secret == b"s" * 40
    monkeypatch.delenv(KEY_FILE_ENV)
    monkeypatch.setenv(KEY_ENV, "e" * 40)
    assert load_key().secret == b"e" * 40


def test_a_missing_or_short_key_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    with pytest.raises(PseudonymKeyError, match=f"No pseudonym key: set {KEY_ENV}"):
        load_key()
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(PseudonymKeyError, match="shorter than 32 characters"):
        load_key()
    with pytest.raises(PseudonymKeyError, match="cannot be read"):
        load_key(tmp_path / "absent")


def test_the_demo_key_serves_only_synthetic_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    demo = load_key(demo=True)
    assert demo.demo and demo.secret == DEMO_KEY.encode()
    refuse_demo_key_for_real_numbers(demo, pl.Series(["9991234567", "9434765919", None]))
    with pytest.raises(PseudonymKeyError, match=r"only synthetic NHS numbers.* holds 1 other"):
        refuse_demo_key_for_real_numbers(demo, pl.Series(["9991234567", "4857773456"]))
    refuse_demo_key_for_real_numbers(KEY, pl.Series(["4857773456"]))


def test_the_fingerprint_names_the_key_without_revealing_it() -> None:
    assert KEY.fingerprint != OTHER.fingerprint
    assert len(KEY.fingerprint) == 12 and "k" * 12 not in KEY.fingerprint


@given(
    secret=st.binary(min_size=32, max_size=200),
    numbers=st.lists(
        st.one_of(st.none(), st.from_regex(r"\A[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}\Z"), st.text()),
        max_size=20,
    ),
)
def test_the_duckdb_column_hmac_equals_the_standard_library_hmac(
    secret: bytes, numbers: list[str | None]
) -> None:
    key = PseudonymKey(secret)
    expected = []
    for n in numbers:
        digits = None if n is None else n.replace(" ", "").replace("-", "")
        ok = digits is not None and len(digits) == 10 and digits.isascii() and digits.isdigit()
        expected.append(
            hmac.new(secret, digits.encode(), hashlib.sha256).hexdigest() if ok and digits else None
        )
    column = pl.Series("nhs_number", numbers, dtype=pl.String)
    assert [pseudonym(key, n) for n in numbers] == expected
    assert _in_duckdb(key, column) == expected


def _in_duckdb(key: PseudonymKey, column: pl.Series) -> list[object]:
    """DuckDB's pseudonyms of the numbers, the padded keys given both ways ``pseudonym_sql``
    takes them (as parameters, and as the loader's registered one-row frame), which must agree."""
    con = duckdb.connect()
    try:
        digits = normalised_numbers(column)
        register_frame(con, "numbers", digits.to_frame().with_row_index("i"))
        sql = f"SELECT {pseudonym_sql('nhs_number')} FROM numbers ORDER BY i"
        by_parameters = [r[0] for r in con.execute(sql, pseudonym_parameters(key)).fetchall()]
        register_frame(con, PADS, pseudonym_pads(key))
        sql = f"SELECT {pseudonym_sql('nhs_number', PADS)} FROM numbers ORDER BY i"
        registered = [r[0] for r in con.execute(sql).fetchall()]
        assert registered == by_parameters
        return by_parameters
    finally:
        con.close()


def test_duckdb_makes_the_same_pseudonyms() -> None:
    numbers = ["943 476 5919", "943-476-5919", "9434765919", "12345", "٩٤٣٤٧٦٥٩١٩", "\\x41", None]
    for key in (KEY, PseudonymKey(b"long" * 40)):
        column = pl.Series("nhs_number", numbers, dtype=pl.String)
        assert _in_duckdb(key, column) == [pseudonym(key, n) for n in numbers]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o660, 0o604, 0o602, 0o620, 0o704, 0o610, 0o601])
def test_a_key_file_with_any_group_or_other_bit_is_refused(tmp_path: Path, mode: int) -> None:
    """Any of the bits 077 refuses the key (the command's own test: test_warehouse_cli.py)."""
    key_file = tmp_path / "key"
    key_file.write_text("a" * 64 + "\n", encoding="ascii")
    key_file.chmod(mode)
    with pytest.raises(PseudonymKeyError, match=rf"mode {mode:04o}.*`chmod 600 {key_file}`"):
        load_key(key_file)
    key_file.chmod(0o600)
    assert load_key(key_file).secret == b"a" * 64
