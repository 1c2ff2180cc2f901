#!/usr/bin/env bash
# Rebuild submissions/examples/ from the spec with the synthetic generator (reproducible by seed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
out=submissions/examples
rm -rf "$out"/RZ* "$out"/known-bad
# Three providers: April to September 2027 under spec 1.0.0, October 2027 to March 2028 under 1.1.0,
# then April to June 2028 under 2.0.0.
# About two in five months with deaths are resubmitted later (RZn/resubmissions/: updates, now and
# then a withdrawal or a late notification), and about one death after discharge in four follows a
# transfer to another of the three, which reports it as an inpatient death (the same person twice).
uv run --frozen mhdeaths synth --spec 1.0.0 --providers 3 --start 2027-04 --months 6 --seed 11 \
    --resubmissions 0.4 --transfers 0.25 --out "$out"
uv run --frozen mhdeaths synth --spec 1.1.0 --providers 3 --start 2027-10 --months 6 --seed 12 \
    --resubmissions 0.4 --transfers 0.25 --out "$out"
# April to June 2028 under spec 2.0.0 (a draft until it is released): deaths, their reviews as a
# table of their own, and, in resubmissions, coroners' reports to prevent future deaths; with the
# review's hard cases planted once each (two dates of death for one death, a transfer never
# reported by its receiver, a holding code replaced, an undetermined death at 12, a late inquest).
uv run --frozen mhdeaths synth --spec 2.0.0 --providers 3 --start 2028-04 --months 3 --seed 15 \
    --resubmissions 0.4 --transfers 0.25 --planted-cases --out "$out"
# A provider whose export uses its own headers, local codes and day-first dates (validators/RZ9.yaml).
uv run --frozen mhdeaths synth --spec 1.0.0 --profile validators/RZ9.yaml --start 2027-04 --months 12 --seed 13 --out "$out"
# Known-bad: one provider-quarter in which some death records carry a known error.
uv run --frozen mhdeaths synth --spec 1.1.0 --provider RY1 --start 2027-10 --months 3 --seed 14 --error-rate 0.6 --out "$out/known-bad"
