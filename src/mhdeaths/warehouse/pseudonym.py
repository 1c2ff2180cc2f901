"""Keyed pseudonyms of NHS numbers: what the warehouse stores instead of the number itself.

A plain hash of an NHS number is no protection (there are only about a billion numbers to try),
so the pseudonym is an HMAC-SHA256 under a secret key that lives outside the repository and the
warehouse: in a key file or an environment variable. The same number under the same key always
gives the same pseudonym, so deaths reported by two providers still link. A documented demo key
serves only the bundled synthetic examples, and it is refused for anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import string
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mhdeaths.errors import UserError
from mhdeaths.settings import path_setting

KEY_ENV = "MHDEATHS_PSEUDONYM_KEY"
"""The key itself (at least 32 characters)."""
KEY_FILE_ENV = "MHDEATHS_PSEUDONYM_KEY_FILE"
"""A file holding the key."""
DEMO_KEY = "mhdeaths-demo-key-for-synthetic-examples-only"
"""Public, so worthless as a secret: only for the synthetic examples (never-issued numbers)."""
MIN_KEY_LENGTH = 32
KEY_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/=-_")
"""The characters of a key: hex, base64 and base64url (``openssl rand -hex 32`` or ``-base64 32``
writes one). A key is one word of them, so a submission's CSV, a spreadsheet or a document named
as the key by mistake (commas, spaces, more than one line) is refused rather than used."""
MAX_KEY_FILE_BYTES = 1024
"""A key file larger than this is not a key: it is refused unread past this size."""
SHAPE = (
    f"one line of at least {MIN_KEY_LENGTH} characters of hex or base64 (A-Z, a-z, 0-9, +, /, =, "
    "- and _), such as `openssl rand -hex 32` writes"
)


class PseudonymKeyError(UserError):
    """No usable key: one sentence saying where the key is looked for."""


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    demo: bool = False

    @property
    def fingerprint(self) -> str:
        """A short, non-reversible name for the key, to record which key made which pseudonyms."""
        return hashlib.sha256(b"mhdeaths-key-fingerprint:" + self.secret).hexdigest()[:12]


def load_key(key_file: Path | None = None, demo: bool = False) -> PseudonymKey:
    """The key: from the file given, else from the environment, else (only when asked) the demo key."""
    if key_file is None and os.environ.get(KEY_FILE_ENV):
        key_file = Path(os.environ[KEY_FILE_ENV])
    if key_file is None and not os.environ.get(KEY_ENV):
        # The settings file's key file, below both environment variables.
        key_file = path_setting("pseudonym_key_file")
    if key_file is not None:
        return _checked(_read_key_file(key_file), f"The pseudonym key in {key_file}")
    if os.environ.get(KEY_ENV):
        return _checked(os.environ[KEY_ENV].strip(), f"The pseudonym key in ${KEY_ENV}")
    if demo:
        return demo_key()
    raise PseudonymKeyError(
        f"No pseudonym key: set {KEY_ENV} or {KEY_FILE_ENV}, give a key file, or name one "
        "as pseudonym_key_file in mhdeaths.toml "
        "(the demo key serves only the synthetic examples)."
    )


def demo_key() -> PseudonymKey:
    """The public demo key, whatever the environment says: for the bundled synthetic examples."""
    return PseudonymKey(DEMO_KEY.encode("utf-8"), demo=True)


def _read_key_file(path: Path) -> str:
    """The key file's one line, once the file is shown to be the owner's alone (as ssh asks of a
    private key) and a regular file (a pipe or a device would never end)."""
    try:
        st = path.stat()
    except OSError:
        raise PseudonymKeyError(f"The pseudonym key file {path} cannot be read.") from None
    if not stat.S_ISREG(st.st_mode):
        raise PseudonymKeyError(f"The pseudonym key file {path} is not a regular file.")
    if os.name == "posix" and st.st_mode & 0o077:
        raise PseudonymKeyError(
            f"The pseudonym key file {path} can be read or written by others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}): make it the owner's alone with `chmod 600 {path}` "
            "and run the command again."
        )
    try:
        with path.open("rb") as f:
            data = f.read(MAX_KEY_FILE_BYTES + 1)
    except OSError:
        raise PseudonymKeyError(f"The pseudonym key file {path} cannot be read.") from None
    line = data.removesuffix(b"\n").removesuffix(b"\r")
    if len(data) > MAX_KEY_FILE_BYTES or not line.isascii() or b"\n" in line or b"\r" in line:
        raise PseudonymKeyError(
            f"The pseudonym key file {path} does not hold a key: it must be {SHAPE}."
        )
    return line.decode("ascii")


def _checked(text: str, where: str) -> PseudonymKey:
    if not set(text) <= KEY_ALPHABET:
        raise PseudonymKeyError(f"{where} is not shaped like a key: it must be {SHAPE}.")
    if len(text) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(f"{where} is shorter than {MIN_KEY_LENGTH} characters.")
    if text == DEMO_KEY:
        return PseudonymKey(text.encode("utf-8"), demo=True)
    return PseudonymKey(text.encode("utf-8"))


def normalise(nhs_number: str) -> str | None:
    """The ten digits of an NHS number, without spaces or dashes; None if it is not ten digits."""
    digits = "".join(ch for ch in nhs_number if ch not in " -")
    return digits if len(digits) == 10 and digits.isascii() and digits.isdigit() else None


def _pads(key: PseudonymKey) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys (RFC 2104)."""
    block = hashlib.sha256().block_size
    secret = key.secret if len(key.secret) <= block else hashlib.sha256(key.secret).digest()
    padded = secret.ljust(block, b"\0")
    return bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)


def pseudonym(key: PseudonymKey, nhs_number: str | None) -> str | None:
    """The keyed pseudonym of one NHS number (None for none, or for a malformed number)."""
    if nhs_number is None:
        return None
    digits = normalise(nhs_number)
    if digits is None:
        return None
    return hmac.new(key.secret, digits.encode("ascii"), hashlib.sha256).hexdigest()


def normalised_numbers(numbers: pl.Series) -> pl.Series:
    """A column of NHS numbers as ``normalise`` gives them one by one: ten digits, or None."""
    digits = numbers.cast(pl.String).str.replace_all(r"[ -]", "")
    valid = pl.when(digits.str.contains(r"^[0-9]{10}$")).then(digits)
    return pl.select(valid).to_series().alias(numbers.name)


PADS = "pseudonym_pads"
"""The name under which the loader registers ``pseudonym_pads``: what ``pseudonym_sql`` reads."""


def pseudonym_sql(digits: str, pads: str | None = None) -> str:
    """DuckDB SQL for the pseudonym of the normalised NHS number (``normalised_numbers``) in the
    SQL expression ``digits``, the same as ``pseudonym`` gives: HMAC-SHA256 written out as its
    two hashes. The padded keys are never in the SQL text: they are the parameters ``$inner`` and
    ``$outer`` (``pseudonym_parameters``), or, with ``pads``, read from the one-row relation of
    that name (``pseudonym_pads``, registered with the connection), so that a statement prepared
    once serves every submission. NULL stays NULL.

    DuckDB computes it across its threads, as part of the insert: in Python the hashes are a loop
    of 1.6 s per million numbers, on one core. The numbers come normalised by polars,
    which does it in a tenth of the time DuckDB's regular expressions took.
    """
    inner, outer = (
        (f'(SELECT "inner" FROM {pads})', f'(SELECT "outer" FROM {pads})')
        if pads
        else ("$inner", "$outer")
    )
    return f"sha256({outer} || unhex(sha256({inner} || encode({digits}))))"


def pseudonym_parameters(key: PseudonymKey) -> dict[str, bytes]:
    inner, outer = _pads(key)
    return {"inner": inner, "outer": outer}


def pseudonym_pads(key: PseudonymKey) -> pl.DataFrame:
    """The padded keys as one row (columns ``inner`` and ``outer``), for a connection to scan
    (see ``pseudonym_sql``): held in memory only, never written to the warehouse."""
    inner, outer = _pads(key)
    return pl.DataFrame(
        {"inner": [inner], "outer": [outer]}, schema={"inner": pl.Binary, "outer": pl.Binary}
    )


def refuse_demo_key_for_real_numbers(key: PseudonymKey, numbers: pl.Series) -> None:
    """The demo key is public: it may pseudonymise only synthetic NHS numbers, those of the
    never-issued range the nhs-number package names synthetic."""
    if not key.demo:
        return
    from nhs_number.constants import REGION_SYNTHETIC

    values = numbers.drop_nulls().cast(pl.Int64, strict=False)
    synthetic = pl.lit(False)
    for r in REGION_SYNTHETIC.ranges:
        synthetic = synthetic | values.is_between(int(r.start), int(r.end))
    real = pl.select((~synthetic).fill_null(True).sum()).item() if values.len() else 0
    if real:
        raise PseudonymKeyError(
            "The demo pseudonym key serves only synthetic NHS numbers, and this submission "
            f"holds {real} other number(s): set a real key."
        )
