"""What the demo census is calibrated to: Hangzhou's counties with their published 2020
populations, and real county-level codes of the places migrants come from. (Generator data,
not a rule of the pipeline: it lived in census_pipeline/lib until issue 13.)
"""

from __future__ import annotations

# Seventh-census resident population by county (published_figures.md); the West Lake scenic
# area (23,763, no county code) is counted with 西湖区, which administers it.
COUNTY_POPULATION = {
    "330102": 1_323_467, "330105": 1_120_985, "330106": 1_089_229 + 23_763, "330108": 503_859,
    "330109": 2_011_699, "330110": 1_226_673, "330111": 832_017, "330112": 634_555,
    "330113": 1_175_841, "330114": 769_150, "330122": 453_106, "330127": 328_957,
    "330182": 442_709,
}
# Townships (乡镇街道) per county, roughly as in 2020.
COUNTY_TOWNSHIPS = {
    "330102": 14, "330105": 18, "330106": 12, "330108": 3, "330109": 22, "330110": 12,
    "330111": 24, "330112": 18, "330113": 8, "330114": 7, "330122": 14, "330127": 23,
    "330182": 16,
}
# Share of households that are collective (dormitories, care homes): higher where the
# universities and factories are.
COUNTY_COLLECTIVE_SHARE = {
    "330102": 0.06, "330105": 0.08, "330106": 0.16, "330108": 0.14, "330109": 0.11,
    "330110": 0.14, "330111": 0.08, "330112": 0.07, "330113": 0.10, "330114": 0.20,
    "330122": 0.05, "330127": 0.03, "330182": 0.05,
}
# Share of villages that are urban (城乡分类代码 starting with 1).
COUNTY_URBAN_SHARE = {
    "330102": 1.0, "330105": 1.0, "330106": 0.97, "330108": 1.0, "330109": 0.80,
    "330110": 0.88, "330111": 0.62, "330112": 0.58, "330113": 0.90, "330114": 0.92,
    "330122": 0.55, "330127": 0.35, "330182": 0.52,
}
# Where people registered in another county of Zhejiang come from.
ZHEJIANG_ORIGINS = (
    "330302", "330326", "330381", "330402", "330502", "330602", "330681", "330702",
    "330782", "330802", "330902", "331002", "331082", "331102", "330212", "331121",
)
# Other provinces: Anhui, Jiangxi, Henan, Guizhou, Sichuan, Hubei, Hunan, Jiangsu, Shandong,
# Chongqing, Guangxi, Yunnan, Gansu, Hebei (the main sources of Hangzhou's migrants first).
OTHER_PROVINCE_ORIGINS = (
    ("340102", 6), ("340121", 5), ("341221", 6), ("341222", 5), ("341623", 4), ("340826", 4),
    ("341321", 3), ("361102", 5), ("360121", 4), ("360502", 3), ("360681", 3), ("410102", 3),
    ("411522", 4), ("411326", 3), ("411628", 3), ("520102", 3), ("520203", 3), ("522422", 3),
    ("510104", 2), ("511621", 3), ("510921", 2), ("420102", 2), ("421127", 2), ("430102", 2),
    ("431121", 2), ("320322", 2), ("321323", 2), ("370102", 1), ("371321", 1), ("500101", 2),
    ("500229", 1), ("450102", 1), ("530102", 1), ("620102", 1), ("130102", 1),
)
# Birth-place area codes of city residents born before the 2021 redistricting.
CITY_BIRTH_AREAS_EXTRA = ("330103", "330104")
OUTSIDE_CITY_CODE = "330281"  # 余姚市 (Ningbo): an EA here is outside the census area
