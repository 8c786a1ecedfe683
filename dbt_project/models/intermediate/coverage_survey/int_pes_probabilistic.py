"""PES persons without an ID match, linked to the census records of their townships with the
linkage model of the register comparison (census_pipeline/lib/linkage.py): one-to-one, at a
match probability of PES_MATCH_THRESHOLD (0.5: more likely a match than not) or more.
Restricted zone: keys only."""


def model(dbt, session):
    # file_format: dbt-spark writes a Python model's table as Delta unless told (dbt-duckdb reads no such setting)
    dbt.config(materialized="table", file_format="parquet")
    from census_pipeline.lib.linkage import PES_MATCH_THRESHOLD, link_residue

    dbt.ref("int_pes_persons")
    dbt.ref("int_pes_candidates")
    dbt.ref("int_pes_persons_residue")
    dbt.ref("int_pes_candidates_residue")
    dbt.ref("int_pes_id_matches")
    s = dbt.this.schema
    result, _stats = link_residue(session, {
        "register": f"{s}.int_pes_persons", "census": f"{s}.int_pes_candidates",
        "register_residue": f"{s}.int_pes_persons_residue", "census_residue": f"{s}.int_pes_candidates_residue",
        "id_links": f"{s}.int_pes_id_matches"}, threshold=PES_MATCH_THRESHOLD)
    return session.sql(f"select person_no as pes_record_id, census_record_id, match_probability, match_weight "
                       f"from {result}")
