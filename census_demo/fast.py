"""Fast paths. The generator spends its time in small calls made millions of times; these give
exactly the values of the library calls they replace (same random draws, same strings), faster."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import random
from functools import cache, lru_cache
from itertools import accumulate

from census_demo.oracle import age_at_standard_time, counts_here, migration_class


class FastRandom(random.Random):
    """random.Random with the same stream and the same results, minus the call overhead of
    randint/choice and the re-accumulation of the same weights on every choices() call."""

    _cum: dict = {}

    def randint(self, a: int, b: int) -> int:
        n = b - a + 1
        k = n.bit_length()
        getrandbits = self.getrandbits
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return a + r

    def choice(self, seq):
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        k = n.bit_length()
        getrandbits = self.getrandbits
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]

    def _cumulative(self, population, weights: tuple) -> tuple:
        c = self._cum.get(weights)
        if c is None:
            cum = list(accumulate(weights))
            if len(cum) != len(population):
                raise ValueError("The number of weights does not match the population")
            total = cum[-1] + 0.0
            if not 0.0 < total < float("inf"):
                raise ValueError("Total of weights must be finite and greater than zero")
            c = self._cum[weights] = (cum, total, len(cum) - 1)
        return c

    def choices(self, population, weights=None, *, cum_weights=None, k=1):
        if k != 1 or cum_weights is not None or type(weights) is not tuple:
            return super().choices(population, weights, cum_weights=cum_weights, k=k)
        cum, total, hi = self._cum.get(weights) or self._cumulative(population, weights)
        return [population[bisect.bisect(cum, self.random() * total, 0, hi)]]

    def pick(self, population, weights: tuple):
        """choices(population, weights)[0] for a tuple of weights: the same draw, no list."""
        c = self._cum.get(weights) or self._cumulative(population, weights)
        return population[bisect.bisect(c[0], self.random() * c[1], 0, c[2])]


def uuid_str(n: int) -> str:
    """str(uuid.UUID(int=n)), without building the UUID object."""
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


counts_here_cached = lru_cache(maxsize=None)(counts_here)
migration_class_cached = lru_cache(maxsize=None)(migration_class)


@cache
def age_on(born: dt.date) -> int:
    return age_at_standard_time(born.year, born.month, born.day)


@cache
def next_day(iso: str) -> str:
    return (dt.date.fromisoformat(iso) + dt.timedelta(days=1)).isoformat()


@cache
def year_month(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


json_line = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode  # json.dumps(x, ensure_ascii=False)
