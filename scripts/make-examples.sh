#!/usr/bin/env bash
# Rebuild submissions/examples/ from the spec with the synthetic generator (reproducible by seed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
out=submissions/examples
feeds=submissions/feeds
rm -rf "$out"/RZ* "$out"/known-bad "$out"/feeds "$feeds"
mkdir -p "$feeds"
# The national feeds (issue 16) each run writes beside its submissions go to submissions/feeds/, out
# of the submissions' folder (a feed file is never a submission): the spells under their month's
# name, the registrations under the year's and the run's seed (two runs cover 2027 and 2028). The
# feeds come from their own random streams: the submission files are the same with or without them.
# RZ2 leaves out 30% of its deaths after discharge; RZ3's spells feed misses 5% of its spells. The
# registrations run to June 2029, so that deaths referred to a coroner (registered late) are in.
FEEDS=(--feeds --background-deaths 5000 --under-report RZ2=0.3 --spells-missing RZ3=0.05
    --registrations-to 2029-06)
collect_feeds() {
    local seed=$1
    mv "$out"/feeds/spells_*.parquet "$feeds"/
    for f in "$out"/feeds/registrations_*.parquet; do
        mv "$f" "$feeds/$(basename "$f" .parquet)_run${seed}.parquet"
    done
    rmdir "$out"/feeds
}
# Three providers: April to September 2027 under spec 1.0.0, October 2027 to March 2028 under 1.1.0,
# then April to June 2028 under 2.0.0.
# About two in five months with deaths are resubmitted later (RZn/resubmissions/: updates, now and
# then a withdrawal or a late notification), and about one death after discharge in four follows a
# transfer to another of the three, which reports it as an inpatient death (the same person twice).
uv run --frozen mhdeaths synth --spec 1.0.0 --providers 3 --start 2027-04 --months 6 --seed 11 \
    --resubmissions 0.4 --transfers 0.25 "${FEEDS[@]}" --out "$out"
collect_feeds 11
uv run --frozen mhdeaths synth --spec 1.1.0 --providers 3 --start 2027-10 --months 6 --seed 12 \
    --resubmissions 0.4 --transfers 0.25 "${FEEDS[@]}" --out "$out"
collect_feeds 12
# April to June 2028 under spec 2.0.0 (a draft until it is released): deaths, their reviews as a
# table of their own, and, in resubmissions, coroners' reports to prevent future deaths; with the
# review's hard cases planted once each (two dates of death for one death, a transfer never
# reported by its receiver, a holding code replaced, an undetermined death at 12, a late inquest).
uv run --frozen mhdeaths synth --spec 2.0.0 --providers 3 --start 2028-04 --months 3 --seed 15 \
    --resubmissions 0.4 --transfers 0.25 --planted-cases "${FEEDS[@]}" --out "$out"
collect_feeds 15
# A provider whose export uses its own headers, local codes and day-first dates (validators/RZ9.yaml).
uv run --frozen mhdeaths synth --spec 1.0.0 --profile validators/RZ9.yaml --start 2027-04 --months 12 --seed 13 --out "$out"
# Known-bad: one provider-quarter in which some death records carry a known error.
uv run --frozen mhdeaths synth --spec 1.1.0 --provider RY1 --start 2027-10 --months 3 --seed 14 --error-rate 0.6 --out "$out/known-bad"
