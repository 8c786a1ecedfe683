"""DuckDB's `hash()` of a VARCHAR, in Python, so that another engine can draw the same donors,
jackknife groups and cell keys (dbt_project/macros/portable.sql, `stable_hash`).

The models choose donors and perturb cells by `hash(text)`; changing that function would change
every published number DuckDB gives today, so the Spark engine computes DuckDB's own: the UTF-8
bytes taken 8 at a time (little-endian, the last block zero-padded), each XORed into a state
seeded from the length and multiplied by a constant, then DuckDB's 64-bit finaliser. The result
is unsigned 64-bit. tests/unit/test_duckdb_hash.py checks it against DuckDB itself.
"""

from __future__ import annotations

MASK = (1 << 64) - 1
MULTIPLIER = 0xD6E8FEB86659FD93
SEED = 0xE17A1465
LENGTH_FACTOR = 0xC6A4A7935BD1E995


def _finalise(x: int) -> int:
    x ^= x >> 32
    x = (x * MULTIPLIER) & MASK
    x ^= x >> 32
    x = (x * MULTIPLIER) & MASK
    return x ^ (x >> 32)


def duckdb_string_hash(text: str | None) -> int | None:
    """DuckDB's hash(text) for a VARCHAR; None for NULL (the models never hash a NULL: every
    argument is a concatenation, NULL only when a part is)."""
    if text is None:
        return None
    data = text.encode("utf-8")
    h = SEED ^ ((len(data) * LENGTH_FACTOR) & MASK)
    for start in range(0, len(data), 8):
        h ^= int.from_bytes(data[start:start + 8], "little")
        h = (h * MULTIPLIER) & MASK
    return _finalise(h)
