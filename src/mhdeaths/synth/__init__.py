"""Synthetic submissions: realistic, reproducible death and activity files for any spec version.

Nobody outside a provider may hold real death records, yet the validator, the warehouse, the
benchmarks, the docs and the demo all need submissions to run on. This package writes them from the
spec alone: for each provider and month, a death file and an activity file whose values follow the
agreed definitions and national orders of magnitude, so that

- a clean set passes every rule of the spec (a rule that rejects realistic data is a bug in the
  rule or in the generator, and the tests say which);
- a set with planted errors says, for each error, the rule that must find it and on which row, so
  the validator can be tested end to end and known-bad examples explain themselves;
- outlier providers, whose death rates are raised while their denominators stay normal, give the
  benchmarks a known answer (a funnel plot must flag them);
- records live as they do in the warehouse: resubmissions of a month update (U) the deaths whose
  cause, inquest or review came later, withdraw (D) one reported in error or add (N) one notified
  late; and a transfer makes two providers report one death (D30 at the sending provider, IPD at
  the receiving one, the same NHS number and date of death), for the warehouse to match;
- identifiers never collide across runs: a death record is ``<ODS>-D-<CCYYMM>-<nnnn>`` and an NHS
  number is drawn from a hash of the seed, provider, month and that number, so files of separate
  runs (other months, other spec versions) can be loaded together;
- the same options always give byte-identical files, so examples and benchmarks are reproducible.

Every draw comes from a ``random.Random`` seeded from the options' seed and the provider and month
it is for, never from global state: adding a provider, an outlier, error injection, resubmissions
or transfers leaves the other provider-months as they were (bar an NHS number redrawn, rarely, to
keep numbers unique; transfers add deaths to the receiving provider's months).

Modules, one job each (imports point down the list): ``options`` (what to generate, what was),
``draws`` (code books and random helpers), ``population`` (providers and national magnitudes),
``run`` (a run's shared state and records), ``children`` (a death's reviews and PFD report
addressees, the optional child tables of spec 2.0.0), ``deaths`` (death records), ``activity``
(activity tables), ``planted`` (planted errors), ``transfers`` (deaths two providers report),
``cases`` (the planted hard cases of spec 2.0.0, each once), ``resubmissions`` (updates,
withdrawals, late deaths), ``files`` (CSV and profile formats), then the national feeds of
issue 16 (``--feeds``): ``numbers`` (NHS numbers by the million), ``spells`` (spells that give
back the activity), ``registrations`` (death registrations and the background), ``feeds`` (both
feeds' files, and the deaths a provider left out), and
``generator`` (``generate``, which runs them in order).
"""

from mhdeaths.synth.files import rewrite_for_profile
from mhdeaths.synth.generator import generate
from mhdeaths.synth.options import (
    CASES,
    FeedsWritten,
    PlantedCase,
    PlantedError,
    PlantedMissed,
    SynthOptions,
    SynthResult,
    Transfer,
)
from mhdeaths.synth.population import provider_codes
from mhdeaths.synth.run import death_record_id

__all__ = [
    "CASES",
    "FeedsWritten",
    "PlantedCase",
    "PlantedError",
    "PlantedMissed",
    "SynthOptions",
    "SynthResult",
    "Transfer",
    "death_record_id",
    "generate",
    "provider_codes",
    "rewrite_for_profile",
]
