"""`census explain`: what one published bulletin cell rests on, in counts only (issue 15).

A cell (table, region, column) that counts persons is traced to the person records it counts,
and from them to their households' authoritative submissions: how many persons, how many of
their records were edited or imputed (the `*_edit_rule` columns of microdata.persons, classed
by codes.edit_rules.method), how many submissions, enumeration areas and enumerators they rest
on, the channel split and how many households were resolved from more than one submission.
A cell that does not count persons (a percentage, a household count, a weighted estimate) is
said to be so, never guessed at.

Restricted-zone view: it reads intermediate tables, but prints counts only. No name, no ID
number, no person key; EA codes appear only as the top few by persons, enumerator ids never.
Everything is one set-based query per figure, so it runs on a 12-million-person warehouse.

The cells follow the bulletin models (dbt_project/models/marts/bulletin/*.sql): b1-b7 count
rows of intermediate.int_bulletin_persons (the counted residents, one row per person, the same
relation those models aggregate); b8 counts HK/Macao/Taiwan residents and foreigners among all
person records; t1 counts persons by township before cell-key perturbation. The predicates
below are copied from those models; tests/integration/test_explain.py checks that every cell
they map counts exactly the published value, so a model changed without this file fails there.
"""

from __future__ import annotations

import contextlib
import fcntl
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from census_pipeline.lib.bulletin_html import LABELS, TABLE_TITLES
from census_pipeline.lib.codes import CITY_CODE
from census_pipeline.lib.duckdb_settings import duckdb_settings

BULLETIN_PERSONS = "intermediate.int_bulletin_persons"
# b6's classification of a separated person as intra-city (b6_migration.sql, `classified`)
IS_INTRA_CITY = ("is_hukou_separated and lives_in_district and (hukou_place = '3' "
                 "or (hukou_place = '4' and hukou_in_city_district))")
# columns of int_bulletin_persons that it takes unchanged from microdata.persons: a counted
# person of a household is found again by them (its derived columns are functions of them)
SHARED_ATTRIBUTES = ("county_code", "household_type", "sex", "age", "is_urban", "ethnicity", "literate",
                     "residence", "hukou_place", "hukou_region_code", "left_hukou_duration")


@dataclass(frozen=True)
class Universe:
    """The person rows a table counts: `source` (SQL), its region column and whether its rows
    are int_bulletin_persons (then matched back to microdata.persons) or microdata.persons."""

    source: str
    region_column: str = "county_code"
    from_bulletin_persons: bool = True
    note: str = ""


COUNTED = Universe(f"select *, {IS_INTRA_CITY} as is_intra_city from {BULLETIN_PERSONS}")
UNIVERSES = {
    "b8_hk_macao_taiwan_foreign": Universe(
        "select * from microdata.persons where id_type in ('2', '3') and residence = '1' "
        "and not is_born_after_standard_time", from_bulletin_persons=False),
    "t1_township_population": Universe(
        "select * from microdata.persons where is_counted", region_column="township_code",
        from_bulletin_persons=False,
        note="公布值经单元键扰动（小数保护）: the published value is perturbed (cell-key method); the persons "
             "counted here are the true count, for the restricted zone only — do not publish it"),
}

# table -> column -> the persons it counts (SQL over the table's universe)
CELLS: dict[str, dict[str, str]] = {
    "b1_population": {"population": "true", "family_household_population": "household_type = '1'",
                      "collective_household_population": "household_type = '2'"},
    "b2_sex": {"male": "sex = '1'", "female": "sex = '2'"},
    "b3_age": {"age_0_14": "age <= 14", "age_15_59": "age between 15 and 59", "age_60_plus": "age >= 60",
               "age_65_plus": "age >= 65"},
    "b4_education": {"illiterate_15_plus": "age >= 15 and literate = '2'"},
    "b5_ethnicity": {"han": "ethnicity = '01'", "minority": "ethnicity <> '01'"},
    "b6_migration": {
        "hukou_separated": "is_hukou_separated",
        "intra_city_separated": "is_intra_city",
        # floating = separated - intra-city, and intra-city persons are all separated
        "floating": "is_hukou_separated and not coalesce(is_intra_city, false)",
        "inter_provincial_floating": "is_hukou_separated and not is_intra_city and hukou_place = '4' "
                                     "and hukou_region_is_valid and substr(hukou_region_code, 1, 2) <> '33'",
    },
    "b7_urban_rural": {"urban": "is_urban", "rural": "not is_urban"},
    "b8_hk_macao_taiwan_foreign": {"hk_macao_taiwan": "id_type = '2'", "foreign": "id_type = '3'"},
    "t1_township_population": {"population": "true", "male": "sex = '1'", "female": "sex = '2'"},
}
HOUSEHOLD_COUNTS = {"family_households", "collective_households", "households"}
NOT_MEASURES = {"region_code", "region_name", "county_code", "category"}
CHANNELS = {"pad": "普查员PAD", "self": "自主填报"}
TOP_EAS = 3
# an EA is named only with 5 or more of the cell's persons: the bulletin publishes no small
# count of 1-4 below the county (cell-key rule), and neither does this view
MIN_EA_PERSONS = 5


class ExplainError(Exception):
    """A wrong table, region or column, or a warehouse that cannot be read: one line, exit 2."""


class WarehouseInUse(ExplainError):
    pass


@dataclass
class Explanation:
    table: str
    region_code: str
    region_name: str
    column: str
    published: object
    traced: bool = False
    reason: str = ""  # why the cell cannot be traced to persons
    note: str = ""
    figures: dict[str, int] = field(default_factory=dict)
    channels: list[tuple[str, int, int]] = field(default_factory=list)  # channel, households, persons
    rules: list[tuple[str, str, int]] = field(default_factory=list)  # rule id, method, persons
    top_eas: list[tuple[str, int]] = field(default_factory=list)


def resolve_table(name: str) -> str:
    """`b1`, `b1_population` or `lf_employment` -> the published table's name."""
    tables = list(TABLE_TITLES)
    if name in tables:
        return name
    matches = [t for t in tables if t.startswith(name.lower() + "_")]
    if len(matches) == 1:
        return matches[0]
    raise ExplainError(f"no published table {name!r}; known: {', '.join(t.split('_')[0] if t[0] in 'bt' else t for t in tables)}")


def reason_not_traced(table: str, column: str) -> str:
    if table.startswith("lf_"):
        return ("a weighted estimate from the 10% long-form sample (design weights calibrated to the full count), "
                "not a count of persons")
    if column in HOUSEHOLD_COUNTS:
        return "a count of households, not of persons"
    return "a percentage, ratio, rate or average computed from counts, not a count of persons"


@contextlib.contextmanager
def open_warehouse(path: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, holding the run lock shared so that no run starts meanwhile.

    A run holds `<warehouse>.lock` exclusively from its first step to its last (resources/
    warehouse.py), and DuckDB's own lock while a step writes: either means the tables are being
    rebuilt, and this says so in one line instead of reading half a run."""
    if not Path(path).is_file():
        raise ExplainError(f"no warehouse at {path}: set CENSUS_WAREHOUSE, or run `census run` first")
    in_use = WarehouseInUse(f"the warehouse {path} is in use by a run: try again when it has finished")
    with contextlib.ExitStack() as stack:
        lock = Path(path + ".lock")
        if lock.exists():
            f = stack.enter_context(open(lock))
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise in_use from None
        try:
            con = duckdb.connect(path, read_only=True, config=duckdb_settings(path))
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise in_use from None
            raise ExplainError(f"cannot open the warehouse {path}: {e}") from None
        stack.callback(con.close)
        yield con


def explain(con: duckdb.DuckDBPyConnection, table: str, region: str, column: str) -> Explanation:
    """What the cell (table, region, column) rests on. Raises ExplainError for a wrong argument."""
    table = resolve_table(table)
    if table.startswith("lf_"):  # one row per region and category: no single cell to look up
        return Explanation(table, region, "", column, None, reason=reason_not_traced(table, column))
    columns = [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'bulletin' and table_name = ? "
        "order by ordinal_position", [table]).fetchall()]
    if not columns:
        raise ExplainError(f"bulletin.{table} is not in the warehouse: run `census run` first")
    column = resolve_column(table, column, columns)
    row = con.execute(f'select region_code, region_name, "{column}" from bulletin.{table} '
                      "where region_code = ? or region_name = ?", [region, region]).fetchone()
    if row is None:
        known = con.execute("select code, name_zh from codes.regions where cast(code as varchar) = ? or name_zh = ?",
                            [region, region]).fetchone()
        if known:
            raise ExplainError(f"{TABLE_TITLES[table]} has no row for {known[1]} ({known[0]})")
        raise ExplainError(f"no region {region!r} in {table}: give a region_code (e.g. {CITY_CODE}) or its "
                           "Chinese name (e.g. 杭州市)")
    result = Explanation(table, row[0], row[1], column, row[2])
    predicate = CELLS.get(table, {}).get(column)
    if predicate is None:
        result.reason = reason_not_traced(table, column)
        return result
    universe = UNIVERSES.get(table, COUNTED)
    result.traced, result.note = True, universe.note
    _select_persons(con, universe, predicate, result.region_code)
    _describe(con, result)
    return result


def resolve_column(table: str, name: str, columns: list[str]) -> str:
    """A column by its warehouse name or its Chinese label in the bulletin."""
    measures = [c for c in columns if c not in NOT_MEASURES]
    if name in measures:
        return name
    by_label = [c for c in measures if LABELS.get(c) == name]
    if by_label:
        return by_label[0]
    listed = ", ".join(f"{c} ({LABELS[c]})" if c in LABELS else c for c in measures)
    raise ExplainError(f"no column {name!r} in {table}; its columns: {listed}")


def _select_persons(con: duckdb.DuckDBPyConnection, universe: Universe, predicate: str, region_code: str) -> None:
    """Temp table `cell`: one row per person record the cell counts, with its household's
    authoritative submission (channel, EA, enumerator) and every rule that touched it."""
    region = "true" if region_code == CITY_CODE and universe.region_column == "county_code" \
        else f"{universe.region_column} = $region"
    rules = [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'microdata' "
        "and table_name = 'persons' and (column_name like '%\\_edit\\_rule' escape '\\' "
        "or column_name like '%\\_flag\\_rule' escape '\\') order by ordinal_position").fetchall()]
    if universe.from_bulletin_persons:
        # every counted person of a household whose shared attributes match a row in the cell:
        # rows alike in all of them are all in the cell or all out, so the match is exact
        same = " and ".join(f"p.{a} is not distinct from c.{a}" for a in SHARED_ATTRIBUTES)
        persons = f"""
            with cell_rows as (
                select * from ({universe.source}) where {region} and ({predicate})
            )
            select p.* from microdata.persons as p
            semi join cell_rows as c
                on p.household_id = c.household_id and {same}
                and try_cast(p.education as integer) is not distinct from c.education
            where p.is_counted"""
    else:
        persons = f"select * from ({universe.source}) where {region} and ({predicate})"
    con.execute(f"""
        create or replace temp table cell as
        with persons as ({persons})
        select
            p.household_id, p.ea_code,
            [{", ".join(f"p.{r}" for r in rules)}, h.household_type_edit_rule] as rule_ids,
            h.channel, h.submissions_received, r.submission_id, r.enumerator_id
        from persons as p
        inner join microdata.households as h on h.household_id = p.household_id
        inner join intermediate.int_households_resolved as r on r.household_id = p.household_id
    """, {"region": region_code} if "$region" in region else None)


def _describe(con: duckdb.DuckDBPyConnection, result: Explanation) -> None:
    rules = """
        with applied as (
            select c.rowid as person, u.rule_id
            from cell as c, unnest(c.rule_ids) as u(rule_id)
            where u.rule_id is not null
        )
        select a.person, a.rule_id, coalesce(e.method, 'deterministic') as method
        from applied as a
        left join codes.edit_rules as e on e.rule_id = a.rule_id
    """
    figures = con.execute(f"""
        with rules as ({rules}),
        per_person as (
            select person,
                   bool_or(method <> 'flag') as changed,
                   bool_or(method = 'donor') as imputed,
                   bool_or(method = 'precedence') as from_id,
                   bool_and(method = 'flag') as flagged_only
            from rules group by person
        ),
        households as (
            select household_id, any_value(submissions_received) as submissions_received from cell group by 1
        )
        select
            (select count(*) from cell) as persons,
            (select count(*) from per_person where changed) as edited_or_imputed,
            (select count(*) from per_person where imputed) as imputed,
            (select count(*) from per_person where from_id) as from_id,
            (select count(*) from per_person where flagged_only) as flagged_only,
            (select count(*) from households) as households,
            (select count(distinct submission_id) from cell) as submissions,
            (select coalesce(sum(submissions_received), 0) from households) as submissions_received,
            (select count(*) from households where submissions_received > 1) as multi_submission_households,
            (select count(distinct ea_code) from cell) as eas,
            (select count(distinct enumerator_id) from cell) as enumerators
    """).fetchone()
    names = ["persons", "edited_or_imputed", "imputed", "from_id", "flagged_only", "households", "submissions",
             "submissions_received", "multi_submission_households", "eas", "enumerators"]
    result.figures = dict(zip(names, figures, strict=True))
    result.channels = con.execute("""
        select channel, count(distinct household_id), count(*) from cell group by channel order by channel
    """).fetchall()
    result.rules = con.execute(f"""
        select rule_id, any_value(method), count(distinct person) from ({rules}) group by rule_id order by rule_id
    """).fetchall()
    result.top_eas = con.execute(f"""
        select ea_code, count(*) as n from cell group by ea_code order by n desc, ea_code limit {TOP_EAS}
    """).fetchall()


def width(text: str) -> int:
    """Columns `text` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def _number(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _pct(n: int, of: int) -> str:
    return f"{n * 100 / of:.2f}%" if of else ""


def _table(rows: list[tuple[int, str, str, str]]) -> list[str]:
    """(indent, label, value, note) rows: labels padded to one width (CJK counted double),
    values right-aligned in one column."""
    label_width = max(indent + width(label) for indent, label, _, _ in rows) + 2
    value_width = max(len(value) for _, _, value, _ in rows)
    lines = []
    for indent, label, value, note in rows:
        note = f"{note:>7}" if note.endswith("%") else note  # shares aligned on the point
        lines.append(f"{' ' * indent}{pad(label, label_width - indent)}{value:>{value_width}}  {note}".rstrip())
    return lines


def render(e: Explanation) -> str:
    """The console text: aligned, Chinese labels as the bulletin has them, counts only."""
    head = TABLE_TITLES[e.table]
    if not e.table.startswith("lf_"):
        head += f" · {e.region_name} ({e.region_code}) · {LABELS.get(e.column, e.column)} ({e.column})"
    lines = [head, ""]
    if not e.traced:
        if not e.table.startswith("lf_"):
            lines.append(f"  公布值 published value: {_number(e.published)}")
        cells = CELLS.get(e.table)
        lines += [f"  不能追溯到个人 cannot be traced to persons: {e.table}.{e.column} is {e.reason}.",
                  f"  Cells of {e.table} that can: {', '.join(cells)}." if cells
                  else f"  No cell of {e.table} counts persons one by one."]
        return "\n".join(lines) + "\n"
    f, persons = e.figures, e.figures["persons"]

    def n(key: str, of: int | None = None) -> tuple[str, str]:
        return f"{f[key]:,}", _pct(f[key], of) if of is not None else ""

    same = "= the published value" if persons == e.published else "≠ the published value"
    rows = [
        (2, "公布值 published value", _number(e.published), ""),
        (2, "人数 persons counted", f"{persons:,}", same),
        (4, "经编辑或插补 edited or imputed", *n("edited_or_imputed", persons)),
        (6, "其中插补 imputed from a donor", *n("imputed", persons)),
        (6, "其中取自身份证号码 taken from the ID", *n("from_id", persons)),
        (4, "仅标记 flagged only, not changed", *n("flagged_only", persons)),
        (2, "户 households", *n("households")),
        (4, "由多份登记表确定 resolved from >1 submission", *n("multi_submission_households", f["households"])),
        (2, "登记表 submissions (authoritative)", *n("submissions")),
        (4, "收到 received, superseded included", *n("submissions_received")),
        (2, "普查小区 enumeration areas", *n("eas")),
        (2, "普查员 enumerators (PAD)", *n("enumerators")),
    ]
    rows.append((2, "登记方式 channel: 户 households / 人 persons", "", ""))
    rows += [(4, f"{channel} {CHANNELS.get(channel, '')}".strip(), f"{households:,} / {k:,}", _pct(k, persons))
             for channel, households, k in e.channels]
    if e.rules:
        rows.append((2, "编辑规则 rules applied (method): 人 persons", "", ""))
        rows += [(4, f"{rule_id} ({method})", f"{k:,}", _pct(k, persons)) for rule_id, method, k in e.rules]
    shown = [(ea, k) for ea, k in e.top_eas if k >= MIN_EA_PERSONS]
    if shown:
        rows.append((2, "人数最多的普查小区 top EAs: 人 persons", "", ""))
        rows += [(4, ea, f"{k:,}", _pct(k, persons)) for ea, k in shown]
    lines += _table(rows)
    if len(shown) < len(e.top_eas):
        lines.append(f"  (EAs with fewer than {MIN_EA_PERSONS} of these persons are not named)")
    if e.note:
        lines += ["", f"  注 {e.note}."]
    lines += ["", "  Counts only (restricted zone): no name, ID number or person key is shown."]
    return "\n".join(lines) + "\n"
