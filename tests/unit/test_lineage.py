"""Column lineage from SQL (census_pipeline/lib/lineage.py), on hand-worked queries."""

from census_pipeline.lib.lineage import (
    cached_column_lineage,
    column_lineage,
    read_cache,
    sql_hazards,
    write_cache,
)

TABLES = {("intermediate", "persons"): ["county_code", "sex", "age", "is_counted", "household_id"],
          ("codes", "regions"): ["code", "name_zh"]}


def test_a_grouped_count_leads_to_its_group_and_filter_columns():
    sql = """
        with counted as (select * from "w"."intermediate"."persons" where is_counted),
        by_county as (
            select county_code as region_code, count(*) as population,
                   count(case when sex = '1' then 1 end) as male
            from counted group by county_code
        )
        select r.name_zh as region_name, b.* from by_county as b
        inner join "w"."codes"."regions" as r on r.code = b.region_code"""
    got = column_lineage(sql, TABLES, ["region_name", "region_code", "population", "male"])
    p = "intermediate", "persons"
    assert got.deps["population"] == ((*p, "county_code"), (*p, "is_counted"))
    assert got.deps["male"] == ((*p, "county_code"), (*p, "is_counted"), (*p, "sex"))
    assert got.deps["region_name"] == (("codes", "regions", "name_zh"),)  # join keys are not deps
    assert got.unresolved == ()


def test_a_union_takes_both_branches_and_a_literal_has_no_column():
    sql = """
        select '330100' as region_code, count(*) as population from "w"."intermediate"."persons"
        union all
        select county_code, count(*) from "w"."intermediate"."persons" group by all"""
    got = column_lineage(sql, TABLES, ["region_code", "population"])
    assert got.deps["region_code"] == (("intermediate", "persons", "county_code"),)
    assert got.deps["population"] == (("intermediate", "persons", "county_code"),)  # GROUP BY ALL


def test_a_correlated_subquery_follows_the_table_it_names_outside():
    sql = """
        with census as (select county_code, count(*) as n from "w"."intermediate"."persons" group by 1)
        select cast(r.code as varchar) as region_code,
               coalesce((select sum(n) from census as x where x.county_code = cast(r.code as varchar)), 0) as births
        from "w"."codes"."regions" as r"""
    got = column_lineage(sql, TABLES, ["region_code", "births"])
    assert got.deps["births"] == (("codes", "regions", "code"), ("intermediate", "persons", "county_code"))


def test_star_on_both_sides_of_a_union_pairs_columns_by_position():
    tables = {("staging", "a"): ["x", "y"], ("staging", "b"): ["y", "x"]}  # same names, other order
    sql = 'select * from "w"."staging"."a" union all select * from "w"."staging"."b"'
    got = column_lineage(sql, tables, ["x", "y"])
    assert got.deps["x"] == (("staging", "a", "x"), ("staging", "b", "y"))


def test_an_unknown_table_leaves_its_columns_unresolved_rather_than_guessed():
    sql = 'select p.age, x.* from "w"."intermediate"."persons" as p cross join "w"."staging"."unknown" as x'
    got = column_lineage(sql, TABLES, ["age", "anything"])
    assert got.deps == {"age": (("intermediate", "persons", "age"),)}
    assert got.unresolved == ("anything",)


def test_sql_that_does_not_parse_leaves_every_column_unresolved():
    got = column_lineage("def model(dbt, session):\n    return None", TABLES, ["a", "b"])
    assert got.deps == {} and got.unresolved == ("a", "b") and got.reason


def test_sql_with_a_secret_or_an_id_number_literal_is_not_shown():
    assert sql_hazards("select '330106' as region_code, 20201101 as seed", ["s3cret"]) == []
    assert sql_hazards("select 1 where key = 's3cret'", ["s3cret"])
    assert sql_hazards("select * from t where id_number = '11010519491231002X'")
    assert sql_hazards("select * from t where id_number = '110105491231002'")  # the old 15-digit form


def test_the_cache_serves_an_unchanged_model_and_not_a_changed_one(tmp_path):
    sql = 'select sex, count(*) as n from "w"."intermediate"."persons" where is_counted group by sex'
    cache = {}
    first = cached_column_lineage(sql, TABLES, ["sex", "n"], cache)
    path = tmp_path / "cache.json"
    write_cache(path, cache)
    again = read_cache(path)
    assert cached_column_lineage(sql, TABLES, ["sex", "n"], again) == first and len(again) == 1
    # the table read gains a column: another key, so the model is parsed again
    grown = {**TABLES, ("intermediate", "persons"): [*TABLES[("intermediate", "persons")], "weight"]}
    cached_column_lineage(sql, grown, ["sex", "n"], again)
    assert len(again) == 2
    path.write_text("{not json")
    assert read_cache(path) == {}
