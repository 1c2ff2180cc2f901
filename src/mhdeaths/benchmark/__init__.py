"""Comparable benchmarks across providers, computed from the warehouse.

Indicators are data (``warehouse/indicators/*.yaml``); this package reads them, counts their
numerators and denominators in the warehouse, compares providers with the methods of
``mhdeaths.stats`` (standardised ratios, funnel limits with over-dispersion), applies disclosure
control to every released cell, and writes the published report and each provider's quarterly
summary.
"""
