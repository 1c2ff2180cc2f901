"""How the command starts: nothing runs when its module is imported, its files are read ahead
from ``main()``, and a command that applies no disclosure rule does not wait for scipy, although
the rules it offers are the stats package's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mhdeaths.benchmark.disclosure_control import RELEASABLE_RULES
from mhdeaths.cli.benchmark import DisclosureRuleName
from mhdeaths.stats import DISCLOSURE_RULES

from .cli import mhdeaths

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "submissions" / "examples" / "RZ1" / "RZ1_2027-10_death.csv"

STARTS = f"""
import sys, threading
sys.argv = ["mhdeaths", "validate", {str(EXAMPLE)!r}, "--format", "json"]
import mhdeaths.cli.app as cli
threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
assert threads == [], threads
assert "polars" not in sys.modules, "importing the command imported polars"
import mhdeaths.validate.reading as reading
read_ahead = reading.read_ahead
def spy(files):
    print("read ahead:", *files, file=sys.stderr, flush=True)
    assert "pydantic" not in sys.modules, "typer converted values before the read-ahead"
    read_ahead(files)
reading.read_ahead = spy
cli.main()
"""


def test_importing_the_command_starts_nothing_and_main_reads_ahead() -> None:
    # The process looks like the command (argv[0] is mhdeaths), yet the import starts no thread
    # and imports no polars; main() then starts the read-ahead before the command runs, and
    # before typer converts its values (with pydantic, slow to import).
    done = subprocess.run(
        [sys.executable, "-c", STARTS], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == f"read ahead: {EXAMPLE}", done.stderr
    assert '"verdict": "accepted"' in done.stdout


def test_no_pydantic_plugin_sees_what_the_command_validates(tmp_path: Path) -> None:
    # A plugin installed beside mhdeaths (here a spy, found through its entry point as pydantic
    # finds any) is handed every model's input before the guard masks it: the command loads
    # none, unless the user names the plugins to leave out themselves.
    (tmp_path / "spy_plugin.py").write_text(
        "import sys\n"
        "print('plugin loaded', file=sys.stderr)\n"
        "class Spy:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = Spy()\n"
    )
    info = tmp_path / "spy_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nspy = spy_plugin:plugin\n")
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = str(tmp_path)
    command = [sys.executable, "-m", "mhdeaths", "validate", str(EXAMPLE), "--format", "json"]
    for chosen, loaded in ((None, False), ("another", True)):
        if chosen is not None:
            env["PYDANTIC_DISABLE_PLUGINS"] = chosen
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert ("plugin loaded" in done.stderr) is loaded, done.stderr


def test_the_disclosure_choices_are_the_releasable_stats_rules_in_their_order() -> None:
    # Read from the stats source without importing it, yet the same as the rules release()
    # accepts: every rule of the stats table that rounds totals to the nearest multiple.
    releasable = [name for name in DISCLOSURE_RULES if name in RELEASABLE_RULES]
    assert [rule.value for rule in DisclosureRuleName] == releasable
    assert "opensafely_midpoint6" in DISCLOSURE_RULES and "opensafely_midpoint6" not in releasable
    for command in ("benchmark", "run"):
        run = mhdeaths(command, "--help")
        assert run.code == 0, run.output
        assert f"<{'|'.join(releasable)}>" in run.stdout, command


def test_a_rule_the_benchmarks_cannot_release_is_not_offered() -> None:
    # Midpoint 6 is in mhdeaths.stats for one's own outputs; the benchmarks' national rows are
    # rounded on their own, so the command refuses it before reading anything (a usage error).
    run = mhdeaths("benchmark", "--disclosure", "opensafely_midpoint6", "-w", "nowhere.duckdb")
    assert run.code == 2, run.output
    assert "Invalid value for '--disclosure'" in run.stderr
    assert "'opensafely_midpoint6' is not one of" in " ".join(run.stderr.split())
    assert "Traceback" not in run.stderr


def imported(*args: str) -> set[str]:
    """The modules a Python process with these arguments imports (``-X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines()}


def test_validating_and_asking_for_help_do_not_import_scipy() -> None:
    for args in (["validate", str(EXAMPLE)], ["benchmark", "--help"]):
        imported_now = imported("-m", "mhdeaths", *args)
        assert "mhdeaths.cli.app" in imported_now
        assert not {name for name in imported_now if name.split(".")[0] == "scipy"}, args


def test_asking_for_the_version_does_not_import_polars() -> None:
    # The versions of the spec are read from its folders and headers: no expression, no frame.
    imported_now = imported("-m", "mhdeaths", "--version")
    assert "mhdeaths.spec.loading" in imported_now
    assert not {name for name in imported_now if name.split(".")[0] == "polars"}


def test_benchmarking_does_not_import_scipy_stats_or_sparse() -> None:
    # Every process that benchmarks (benchmark, run, demo) imports mhdeaths.stats, which needs
    # scipy.special; scipy.stats and scipy.sparse, a second or two more to import, only the CUSUM
    # run length and FunnelPlotR's compatibility mode use, and they import them when they run.
    modules = imported("-c", "import mhdeaths.benchmark.run")
    assert "mhdeaths.stats.cusum" in modules
    assert not {n for n in modules if n.split(".")[:2] in (["scipy", "stats"], ["scipy", "sparse"])}
