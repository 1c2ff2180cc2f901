#!/usr/bin/env bash
# Rebuild submissions/examples/ from the spec with the synthetic generator (reproducible by seed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
out=submissions/examples
rm -rf "$out"/RZ* "$out"/known-bad
# Three providers: April to September 2027 under spec 1.0.0, October 2027 to March 2028 under 1.1.0.
# About two in five months with deaths are resubmitted later (RZn/resubmissions/: updates, now and
# then a withdrawal or a late notification), and about one death after discharge in four follows a
# transfer to another of the three, which reports it as an inpatient death (the same person twice).
# `mhdeaths synth` has no --resubmissions or --transfers options yet, so the generator is called
# directly; with them this is `mhdeaths synth --spec <version> --providers 3 --start <period>
# --months 6 --seed <seed> --resubmissions 0.4 --transfers 0.25 --out "$out"`.
uv run --frozen python - "$out" <<'PY'
import sys
from pathlib import Path

from mhdeaths.spec import load_spec
from mhdeaths.synth import SynthOptions, generate

out = Path(sys.argv[1])
for version, start, seed in (("1.0.0", "2027-04", 11), ("1.1.0", "2027-10", 12)):
    options = SynthOptions(
        providers=3, start=start, months=6, seed=seed, resubmissions=0.4, transfers=0.25
    )
    result = generate(load_spec(version), options, out)
    print(
        f"Wrote {len(result.files)} files for {', '.join(result.providers)} (spec {version}), "
        f"{len(result.resubmissions)} of them resubmissions, with {len(result.transfers)} "
        "deaths reported by two providers."
    )
PY
# A provider whose export uses its own headers, local codes and day-first dates (validators/RZ9.yaml).
uv run --frozen mhdeaths synth --spec 1.0.0 --profile validators/RZ9.yaml --start 2027-04 --months 12 --seed 13 --out "$out"
# Known-bad: one provider-quarter in which some death records carry a known error.
uv run --frozen mhdeaths synth --spec 1.1.0 --provider RY1 --start 2027-10 --months 3 --seed 14 --error-rate 0.6 --out "$out/known-bad"
