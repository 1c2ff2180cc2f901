"""Synthetic submissions: realistic, reproducible death and activity files for any spec version."""

from mhdeaths.synth.deaths import (
    PlantedError,
    SynthOptions,
    SynthResult,
    Transfer,
    death_record_id,
    generate,
    provider_codes,
    rewrite_for_profile,
)

__all__ = [
    "PlantedError",
    "SynthOptions",
    "SynthResult",
    "Transfer",
    "death_record_id",
    "generate",
    "provider_codes",
    "rewrite_for_profile",
]
