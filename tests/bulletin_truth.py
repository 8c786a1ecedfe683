"""Expected bulletin tables b1-b8 computed from the generator's truth counts, independently of
the pipeline: Python Decimal arithmetic, rounded half away from zero (rules.md)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from census_pipeline.lib.codes import CITY_CODE, counties


def ratio(num: int, den: int, scale: int, decimals: int):
    if den == 0:
        return None
    q = Decimal(num) * scale / Decimal(den)
    return int(q.quantize(Decimal(1), ROUND_HALF_UP)) if decimals == 0 else q.quantize(
        Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def expected_tables(truth: dict) -> dict[str, dict[str, dict]]:
    names = {CITY_CODE: "杭州市", **counties()}
    rows = {CITY_CODE: truth["city"], **truth["county"]}
    city_pop = truth["city"]["population"]
    out: dict[str, dict[str, dict]] = {f"b{i}": {} for i in range(1, 9)}
    for code in sorted(rows):
        counts = rows[code]

        def g(k: str, counts=counts) -> int:
            return counts.get(k, 0)

        pop = g("population")
        base = {"region_code": code, "region_name": names[code]}
        if pop:
            out["b1"][code] = {**base, "population": pop, "share_of_city_pct": ratio(pop, city_pop, 100, 2),
                               "family_households": g("family_households"),
                               "family_household_population": g("family_household_population"),
                               "collective_households": g("collective_households"),
                               "collective_household_population": g("collective_household_population"),
                               "avg_family_household_size": ratio(g("family_household_population"),
                                                                  g("family_households"), 1, 2)}
            out["b2"][code] = {**base, "male": g("male"), "female": g("female"),
                               "sex_ratio": ratio(g("male"), g("female"), 100, 2)}
            out["b3"][code] = {**base, **{f"age_{k}": g(f"age_{k}") for k in ("0_14", "15_59", "60_plus", "65_plus")},
                               **{f"pct_{k}": ratio(g(f"age_{k}"), pop, 100, 2)
                                  for k in ("0_14", "15_59", "60_plus", "65_plus")}}
            out["b4"][code] = {**base, "university_per_100k": ratio(g("university"), pop, 100000, 0),
                               "high_school_per_100k": ratio(g("high_school"), pop, 100000, 0),
                               "junior_secondary_per_100k": ratio(g("junior_secondary"), pop, 100000, 0),
                               "primary_per_100k": ratio(g("primary"), pop, 100000, 0),
                               "avg_years_schooling_15_plus": ratio(g("years_of_schooling_15_plus"),
                                                                    g("persons_15_plus"), 1, 2),
                               "illiterate_15_plus": g("illiterate_15_plus"),
                               "illiteracy_pct": ratio(g("illiterate_15_plus"), pop, 100, 2)}
            out["b5"][code] = {**base, "han": g("han"), "minority": g("minority"),
                               "pct_han": ratio(g("han"), pop, 100, 2), "pct_minority": ratio(g("minority"), pop, 100, 2)}
            out["b6"][code] = {**base, "hukou_separated": g("hukou_separated"),
                               "intra_city_separated": g("intra_city_separated"),
                               "floating": g("hukou_separated") - g("intra_city_separated"),
                               "inter_provincial_floating": g("inter_provincial_floating")}
            out["b7"][code] = {**base, "urban": g("urban"), "rural": g("rural"),
                               "urbanization_pct": ratio(g("urban"), pop, 100, 2)}
        if code == CITY_CODE or g("hk_macao_taiwan") + g("foreign"):
            out["b8"][code] = {**base, "hk_macao_taiwan": g("hk_macao_taiwan"), "foreign": g("foreign")}
    return out
