"""``mhdeaths --version``: what a help desk needs to know about an installation, in a few lines.

A provider reporting a finding, or an analyst a figure, is asked which tool, which spec versions
and which DuckDB made it; the warehouse file's format depends on the last (a DuckDB 2.x file does
not open in 1.x), so it is said here too.
"""

from __future__ import annotations

import platform
from importlib.metadata import version


def versions() -> list[str]:
    """One line each: the package, where its data comes from, the spec versions, DuckDB, Python."""
    from mhdeaths import __version__
    from mhdeaths.paths import data_root, default_spec_root, installed
    from mhdeaths.settings import settings_file
    from mhdeaths.spec import available_versions, feed_roots, latest_version

    root = default_spec_root()
    lines = [f"mhdeaths {__version__}"]
    try:
        specs = available_versions(root)
        lines.append(
            f"spec versions: {', '.join(specs)} (default {latest_version(root)}) in {root}"
        )
        feeds = feed_roots(root)
        if feeds:
            lines.append(
                "feed specs: "
                + ", ".join(
                    f"{name} {', '.join(available_versions(path))}" for name, path in feeds.items()
                )
            )
    except Exception as exc:
        lines.append(f"spec versions: none readable in {root} ({exc})")
    duckdb = version("duckdb")
    lines.append(
        f"DuckDB {duckdb} (warehouse files open in DuckDB {duckdb.split('.')[0]}.x or newer)"
    )
    lines.append(f"Python {platform.python_version()}")
    lines.append(
        f"data: {'installed with the package' if installed() else 'checkout'} at {data_root()}"
    )
    config = settings_file()
    lines.append(f"settings file: {config}" if config else "settings file: none")
    return lines
