"""The readers' limits in the process itself: background reads stop once a file is refused, the
read-ahead stops at a refused file, and each limit is read from ``--limit NAME=VALUE`` exactly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mhdeaths.errors import UserError
from mhdeaths.limits import DEFAULT_LIMITS, Limits
from mhdeaths.validate import reading
from mhdeaths.validate.reading import SubmissionFileError, read_ahead, read_file

EXAMPLE = Path(__file__).resolve().parents[2] / "submissions/examples/RZ1/RZ1_2027-06_death.csv"


def sparse_csv(path: Path, header: bytes, size: int) -> Path:
    """A CSV of ``size`` bytes on disk almost free: the header and 1 MiB of records, then a
    line break every MiB with nothing (zeros, a hole in the file) between them."""
    with path.open("wb") as fh:
        fh.write(header)
        fh.write(b"1,2\n" * (1 << 18))
        for at in range(2 << 20, size, 1 << 20):
            fh.seek(at)
            fh.write(b"\n")
        fh.truncate(size)
    return path


@pytest.mark.slow
def test_the_checksum_scan_stops_once_the_file_is_refused(tmp_path: Path) -> None:
    """A file refused for its header (read first) while its 300 MB are being checksummed beside
    it: the refusal comes at once rather than after the whole file is read."""
    wide = b",".join(b"c%d" % i for i in range(2_000)) + b"\n"
    path = sparse_csv(tmp_path / "wide_death.csv", wide, 300 << 20)
    started = time.monotonic()
    reading._scan(path)
    whole = time.monotonic() - started
    started = time.monotonic()
    with pytest.raises(SubmissionFileError, match="has 2,000 columns"):
        read_file(path)
    refused = time.monotonic() - started
    assert refused < whole / 4, (refused, whole)


def test_a_scan_told_to_stop_reads_no_further(tmp_path: Path) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    with pytest.raises(reading._Stopped):
        reading._scan(EXAMPLE, stop=stop)


def test_the_scan_reads_no_more_than_the_size_limit(tmp_path: Path) -> None:
    """A file that grows past the limit after it was checked is still refused (here: a limit
    below its size given to the scan alone)."""
    with pytest.raises(SubmissionFileError, match="larger than the limit of 1 KiB"):
        reading._scan(EXAMPLE, limits=Limits(file_size=1024))


def test_the_read_ahead_stops_at_a_refused_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad_death.xlsx"
    bad.write_bytes(b"PK\x03\x04" + bytes(1000))
    good = tmp_path / "good_death.csv"
    good.write_bytes(EXAMPLE.read_bytes())
    read_ahead([bad, good])
    with pytest.raises(SubmissionFileError, match=r"bad_death\.xlsx"):
        read_file(bad)
    # The next file was not read ahead; asked for, it is read then.
    assert reading._AHEAD[good].exception(timeout=10).__class__ is reading._NotReadAhead
    assert read_file(good).sheets[0].frame.height > 0
    assert good not in reading._AHEAD


def test_a_file_read_ahead_is_read_again_under_other_limits(tmp_path: Path) -> None:
    path = tmp_path / "RZ1_2027-06_death.csv"
    path.write_bytes(EXAMPLE.read_bytes())
    read_ahead([path])
    with pytest.raises(SubmissionFileError, match="larger than the limit of 1 KiB"):
        read_file(path, limits=Limits(file_size=1024))


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ([], DEFAULT_LIMITS),
        (["file-size=2G"], Limits(file_size=2 << 30)),
        (["file_size=512MiB", "COLUMNS=2,000"], Limits(file_size=512 << 20, columns=2000)),
        (["line-length=64k", "cells=1_000"], Limits(line_length=64 << 10, cells=1000)),
        (["zip-ratio=300", "zip-ratio=400"], Limits(zip_ratio=400)),
        ([" sheet-cells = 5M "], Limits(sheet_cells=5 << 20)),
    ],
)
def test_limits_are_read_from_name_value_settings(settings: list[str], expected: Limits) -> None:
    assert Limits.parse(settings) == expected


@pytest.mark.parametrize("setting", ["file-size", "rows=5", "columns=-1", "columns=1.5", "cells=0"])
def test_a_wrong_setting_is_one_sentence(setting: str) -> None:
    with pytest.raises(UserError) as caught:
        Limits.parse([setting])
    message = str(caught.value)
    assert message.startswith("--limit ") and message.endswith(".") and "\n" not in message
