"""A stable train/test split by name: the same file is in the same split on every
machine, in every run, whatever else the collection holds.

A file's split is decided by the SHA-1 of its key (its path inside the collection, or
a row's id) alone: adding, removing or reordering other files never moves it, and a
test image can never enter training.
"""

from __future__ import annotations

import hashlib

from ..errors import CometError


def check_fraction(test_fraction) -> float:
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise CometError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    return float(test_fraction)


def split_of(key: str, test_fraction: float) -> str:
    """'test' for about `test_fraction` of all keys, 'train' for the others; fixed per key."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2 ** 64                          # uniform in [0, 1)
    return "test" if u < test_fraction else "train"
