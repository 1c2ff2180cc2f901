"""The NHS number check computes its weighted sum two ways (looked up in tables for a large file,
digit by digit for a small one): both give every number the same check."""

from __future__ import annotations

import random

import polars as pl

from mhdeaths.language import functions


def test_the_sum_digit_by_digit_and_the_tables_give_the_same_check() -> None:
    draw = random.Random(20261207)
    edges = [0, 1, 9_999_999_999, 1_000_000_000, 4_010_232_137, 9_434_765_919, None]
    numbers = pl.Series([*edges, *(draw.randrange(10**10) for _ in range(20_000))], dtype=pl.Int64)
    by_table = functions.nhs_weighted_sum(numbers, by_table=True) % 11
    by_digit = functions.nhs_weighted_sum(numbers, by_table=False) % 11
    assert by_table.equals(by_digit)
    assert by_digit.null_count() == 1


def test_a_small_column_is_checked_without_the_tables_and_a_large_one_with_them() -> None:
    functions._nhs_tables.cache_clear()
    texts = pl.Series(["9434765919", "9434765918", "943476591", "94347659190", "abc", None])
    assert functions._nhs_numbers_valid(texts).to_list() == [True, False, False, False, False, None]
    assert functions._nhs_tables.cache_info().currsize == 0
    large = pl.concat([texts] * (functions.TABLES_FROM // len(texts) + 1))
    assert functions._nhs_numbers_valid(large).to_list() == large.len() // len(texts) * [
        True,
        False,
        False,
        False,
        False,
        None,
    ]
    assert functions._nhs_tables.cache_info().currsize == 1
