"""The post-enumeration survey on the shared generated census: estimate vs the planted truth,
matching vs the generator's record-to-person truth, de-identified outputs, the bulletin."""

from pathlib import Path

from tests.dbt_helpers import dbt_var


def rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def city(con) -> dict:
    return rows(con, "select * from quality.pes_estimates where level = 'city'")[0]


def test_net_omission_estimate_is_within_a_tenth_of_a_point_of_the_truth(built):
    _, con, truth = built
    est, planted = city(con), truth["pes"]["net_omission_rate_pct"]
    assert truth["pes"]["census_missed_residents"] > 0 and planted > 0
    assert abs(est["net_omission_pct"] - planted) <= 0.1, (est, planted)
    assert est["ci_low_pct"] <= planted <= est["ci_high_pct"]
    assert est["census_count"] == truth["pes"]["census_counted"] == truth["city"]["population"]
    assert est["p_sample_persons"] == truth["pes"]["persons"]
    assert est["jackknife_replicates"] >= 10


def test_every_level_adds_up_and_pooled_post_strata_are_marked(built):
    _, con, _ = built
    levels = {r["level"]: r for r in rows(con, """
        select level, sum(census_count) as counted, sum(p_sample_persons) as p from quality.pes_estimates group by level
    """)}
    assert len({(r["counted"], r["p"]) for r in levels.values()}) == 1  # counties, groups, strata: same totals
    cells = rows(con, "select region_or_stratum, estimation_cell, p_sample_matched from quality.pes_estimates "
                      "where level = 'post_stratum'")
    own = [c["estimation_cell"] == c["region_or_stratum"] for c in cells]
    min_cell = dbt_var("pes_min_cell")  # a post-stratum stands alone from this many matches
    assert own == [c["p_sample_matched"] >= min_cell for c in cells]
    assert any(own) and not all(own)


def test_pes_matching_against_the_truth(built):
    _, con, _ = built
    judged = rows(con, """
        with truth as (
            select p.record_key as pes_record_id, c.record_key as census_record_id
            from raw.linkage_truth as p
            inner join raw.linkage_truth as c on c.person = p.person and c.record_type = 'census'
            where p.record_type = 'pes'
        ),
        made as (
            select person_no as pes_record_id, census_record_id from intermediate.int_pes_id_matches
            union all select pes_record_id, census_record_id from intermediate.int_pes_probabilistic
        ),
        counted as (
            select submission_id || ':' || person_index as record_id from intermediate.int_persons_edited
            where is_counted
        )
        select (select count(*) from made) as made,
               (select count(*) from made inner join truth using (pes_record_id, census_record_id)) as right_,
               (select count(distinct pes_record_id) from truth
                where census_record_id in (select record_id from counted)) as findable,
               (select count(*) from quality.pes_matches where match_method = 'probabilistic') as probabilistic
    """)[0]
    assert judged["probabilistic"] > 0  # PES typos and missing IDs really go to Splink
    assert judged["right_"] / judged["made"] >= 0.999
    assert judged["right_"] / judged["findable"] >= 0.995


def test_pes_outputs_hold_no_names_or_ids(built):
    _, con, _ = built
    for table in ("pes_matches", "pes_estimates"):
        cols = {c[0] for c in con.execute(f"describe quality.{table}").fetchall()}
        assert not cols & {"name", "person_name", "id_number", "valid_id"}, table


def test_bulletin_shows_the_net_omission_rate(built):
    _, con, _ = built
    db = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    page = (Path(db).parent / "out" / "bulletin" / "bulletin.html").read_text(encoding="utf-8")
    est = city(con)
    assert "普查登记质量" in page and "净漏登率" in page and 'id="chart_pes_post_strata"' in page
    assert f"{est['net_omission_pct']:.2f}%" in page


def test_statisticians_see_linkage_and_pes_figures_as_asset_metadata(built):
    result, _, truth = built
    meta = {}
    for event in result.all_events:
        if event.event_type.value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            meta[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    linkage, pes = meta["linkage/linkage_quality"], meta["quality/pes_estimates"]
    assert linkage["precision_pct/residue"] >= 99.9 and linkage["recall_pct/whole"] >= 99.99
    assert "probabilistic (residue)" in linkage["linkage_quality"]
    assert pes["pes_sample_persons"] == truth["pes"]["persons"] and pes["pes_sample_eas"] > 0
    assert pes["net_omission_ci95_low_pct/city"] <= pes["net_omission_pct/city"] <= pes["net_omission_ci95_high_pct/city"]
    assert "Net omission rate" in pes["headline"]
