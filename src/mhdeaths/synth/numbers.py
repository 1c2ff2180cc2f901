"""NHS numbers by the million for the national feeds: distinct, valid, never a reported person's.

The death files draw each number from a hash and keep a set of those used, which is fine for a few
thousand deaths but not for the feeds' millions of people (spells and background registrations).
Here the synthetic range's nine-digit stems 900000000-999999999 are walked in the order of an
affine permutation, ``900000000 + (a * i + b) mod 10**8`` with ``a`` coprime to 10**8: distinct by
construction, with no set to hold. The modulus 11 check digit is computed for a whole block at
once; a stem whose check digit would be 10 has no NHS number and is skipped, and so is any number
the death files already gave someone (``np.isin``), so a made-up person never links by accident.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from mhdeaths.synth.draws import numpy_stream

_STEMS = 100_000_000
_FIRST = 900_000_000
# The modulus 11 weights of the nine digits of the stem, most significant first.
_WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)
_POWERS = 10 ** np.arange(8, -1, -1, dtype=np.int64)

Numbers = npt.NDArray[np.int64]


def check_digits(stems: Numbers) -> Numbers:
    """The check digit of each nine-digit stem: 0 to 9, or 10 where no NHS number has the stem."""
    total = np.zeros(len(stems), dtype=np.int64)
    # Digit by digit, so a block of millions never holds nine times itself.
    for power, weight in zip(_POWERS.tolist(), _WEIGHTS.tolist(), strict=True):
        total += (stems // power % 10) * weight
    remainder = 11 - total % 11
    digits: Numbers = np.where(remainder == 11, 0, remainder)
    return digits


class NumberSource:
    """Hands out NHS numbers (as ten-digit integers), each once, in a seeded order."""

    def __init__(self, key: str, exclude: Iterable[str]) -> None:
        rng = numpy_stream(key)
        # Coprime to 10**8: odd and not a multiple of 5.
        a = int(rng.integers(10**6, _STEMS // 10)) * 10 + int(rng.choice([1, 3, 7, 9]))
        self._a, self._b = a, int(rng.integers(0, _STEMS))
        self._next = 0
        self._exclude = np.sort(np.array([int(n) for n in exclude if n.isdigit()], dtype=np.int64))

    def take(self, n: int) -> Numbers:
        """The next n numbers."""
        found: list[Numbers] = []
        wanted = n
        while wanted > 0:
            block = int(wanted * 1.15) + 64
            i = np.arange(self._next, self._next + block, dtype=np.int64)
            if self._next + block > _STEMS:
                raise ValueError("The synthetic range has no more NHS numbers.")
            self._next += block
            stems = _FIRST + (self._a * i + self._b) % _STEMS
            check = check_digits(stems)
            numbers = stems * 10 + check
            keep = (check < 10) & ~np.isin(numbers, self._exclude)
            numbers = numbers[keep]
            if len(numbers) > wanted:
                # Step back to just after the last number used, so none is wasted or repeated.
                last = np.flatnonzero(keep)[wanted - 1]
                self._next -= block - int(last) - 1
                numbers = numbers[:wanted]
            found.append(numbers)
            wanted -= len(numbers)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
