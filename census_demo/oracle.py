"""The generator's test oracle: `rules.md` applied to one person record in plain Python.

The pipeline implements these rules set-based in SQL (dbt). The generator applies this
independent, deliberately simple reading to the records it writes, so that the truth file
states what the pipeline must find. Keep the two apart: never import this from the pipeline.
"""

from __future__ import annotations

import datetime as dt

STANDARD_DATE = dt.date(2020, 11, 1)


def code(value) -> int | None:
    """A code as an integer ("01" == "1"), or None when missing or not a code."""
    if not isinstance(value, str) or not value.strip().isdigit():
        return None
    return int(value)


def age_at_standard_time(year: int, month: int, day: int | None = None) -> int:
    """Completed years at 2020-11-01 00:00; a 1 November birthday has not yet come."""
    before_birthday = (month, day or 1) < (11, 1) if day is not None else month < 11
    return 2020 - year if before_birthday else 2019 - year


def counts_here(residence, hukou_place, duration, reason) -> tuple[bool, bool]:
    """(counts in the household's township, flagged) for a person line, rules.md 常住人口."""
    res, place, dur, why = code(residence), code(hukou_place), code(duration), code(reason)
    if res == 1:
        if place in (1, 2, 5):
            return True, False
        if dur is not None and dur >= 3:
            return True, False
        if place in (3, 4) and dur == 2:
            return False, False
        return True, True  # hukou elsewhere with duration 1 or missing: contradictory, counted, flagged
    if dur == 2:
        return True, False
    if res == 6 and why in (1, 2):
        return True, False
    return False, False


def migration_class(residence, hukou_place, duration, hukou_region_code, county_is_district: bool):
    """b6 categories of a counted person: (hukou_separated, intra_city, inter_provincial)."""
    res, place, dur = code(residence), code(hukou_place), code(duration)
    separated = res == 1 and place in (3, 4) and dur is not None and dur >= 3
    if not separated:
        return False, False, False
    region = hukou_region_code if isinstance(hukou_region_code, str) else ""
    if place == 3:
        intra = county_is_district
    else:
        from census_pipeline.lib.codes import is_district

        intra = county_is_district and is_district(region) and region.isdigit() and len(region) == 6
    inter = (not intra) and place == 4 and len(region) == 6 and region.isdigit() and not region.startswith("33")
    return True, intra, inter
