"""``mhdeaths benchmark``: compute every indicator, release it, and write the published outputs.

The one function the command (and the end-to-end run) calls, so that the steps happen in the only
safe order: counts from the warehouse, then disclosure control of the counts and every published
figure computed again from the released counts, then the outputs (all from that one release).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

from mhdeaths.benchmark.compute import Benchmarks, compute
from mhdeaths.benchmark.disclosure_control import Released, release
from mhdeaths.benchmark.history import record_run
from mhdeaths.benchmark.indicators import select_indicators
from mhdeaths.benchmark.inequalities import compute_tables, release_tables
from mhdeaths.benchmark.monitoring import SUMMARY_LINE, release_monitoring
from mhdeaths.benchmark.monitoring_pack import check_apart, write_pack
from mhdeaths.benchmark.provider_summary import provider_summaries
from mhdeaths.benchmark.render import write_outputs
from mhdeaths.stats import BAND_HIGHER


@dataclass(frozen=True)
class Published:
    benchmarks: Benchmarks
    released: Released
    paths: list[Path]
    run_id: int | None = None
    """The run's id in the warehouse's ``benchmark_run``; None when it was not recorded."""
    pack: list[Path] = field(default_factory=list)
    """The restricted monitoring pack's files, index first; empty when none was asked for."""

    @property
    def report(self) -> Path:
        return self.paths[0]

    def summary(self) -> list[str]:
        """What a command says when the benchmarks are written: the coverage, the rule, the
        providers banded higher than expected on each indicator, and, where indicators are
        charted, that their CUSUM alerts are not published (a command's output is copied into
        logs and e-mails as freely as the report: it names no alert either)."""
        b = self.benchmarks
        lines = [
            f"Benchmarked {len(b.providers)} providers on {len(b.results)} indicators for the "
            f"windows ending {b.period}; counts released under the {self.released.rule.title}."
        ]
        for indicator, providers in self.outliers().items():
            lines.append(f"  {indicator}: higher than expected: {', '.join(providers)}")
        if self.released.monitoring:
            lines.append(f"  {SUMMARY_LINE}")
            if self.pack:
                # Where the alerts are, never what they are: this line goes into logs.
                lines.append(f"  Monitoring pack (restricted, not for publication): {self.pack[0]}")
        return lines

    def outliers(self) -> dict[str, list[str]]:
        """Per indicator, the providers banded higher than expected (95% adjusted limits, as the
        SHMI bands)."""
        found: dict[str, list[str]] = {}
        for meta in self.released.indicators:
            indicator = str(meta["indicator"])
            if providers := self.released.providers_banded(indicator, "95", BAND_HIGHER):
                found[indicator] = providers
        return found


def publish_benchmarks(
    warehouse: Path,
    out: Path,
    *,
    period: str | None = None,
    rule: str = "nhs_england",
    as_at: dt.datetime | None = None,
    indicators: list[str] | None = None,
    store: bool = False,
    pack: Path | None = None,
) -> Published:
    """Benchmark the warehouse for the window ending at ``period`` and write every output: on
    every indicator in use, or only on those ``indicators`` name (ids, as ``--indicator``).
    With ``store``, the run and its released rows are then recorded in the warehouse; with
    ``pack``, the restricted monitoring pack is written there (apart from ``out``)."""
    if pack is not None:
        check_apart(pack, out)  # before any work, so a wrong folder costs nothing
    chosen = select_indicators(indicators) if indicators else None
    benchmarks = compute(warehouse, period, as_at=as_at, indicators=chosen)
    return publish_computed(warehouse, benchmarks, out, rule=rule, store=store, pack=pack)


def publish_computed(
    warehouse: Path,
    benchmarks: Benchmarks,
    out: Path,
    *,
    rule: str = "nhs_england",
    store: bool = False,
    pack: Path | None = None,
) -> Published:
    """Release ``benchmarks`` (computed from ``warehouse``) under ``rule`` and write every output:
    the second half of :func:`publish_benchmarks`, for a caller that computes once and releases
    under several rules (the disclosure tests)."""
    released = release(benchmarks, rule)
    # The inequalities section and the themes table, released under the same rule.
    released = replace(released, tables=release_tables(compute_tables(warehouse, benchmarks), rule))
    # The monthly CUSUM charts: their thresholds released, their alerts kept apart (they give
    # counts back when publications are compared).
    released = replace(released, monitoring=release_monitoring(benchmarks, released))
    if pack is not None:
        check_apart(pack, out)
    summaries = provider_summaries(warehouse, benchmarks, released)
    paths = write_outputs(benchmarks, released, summaries, out)
    run_id = record_run(warehouse, benchmarks, released) if store else None
    # The pack is written from the charts on the true counts, never from the released cells.
    written = write_pack(benchmarks, released.monitoring, pack) if pack is not None else []
    return Published(benchmarks, released, paths, run_id, written)
