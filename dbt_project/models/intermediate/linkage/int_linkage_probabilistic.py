"""Probabilistic linkage (Splink) of the register and census records that no valid ID number
links: name typos and homophones, missing or mistyped ID numbers. One row per accepted pair,
one-to-one, at a match probability of at least 0.99 (census_pipeline/lib/linkage.py).
Restricted zone: keys only, no names or ID numbers."""


def model(dbt, session):
    # file_format: dbt-spark writes a Python model's table as Delta unless told (dbt-duckdb reads no such setting)
    dbt.config(materialized="table", file_format="parquet")
    from census_pipeline.lib.linkage import link_residue

    # dbt.ref declares the lineage; Splink reads the tables by name in the same connection
    dbt.ref("int_linkage_register")
    dbt.ref("int_linkage_census")
    dbt.ref("int_linkage_register_residue")
    dbt.ref("int_linkage_census_residue")
    dbt.ref("int_linkage_id_links")
    schema = dbt.this.schema
    names = ("register", "census", "register_residue", "census_residue", "id_links")
    result, _stats = link_residue(session, {n: f"{schema}.int_linkage_{n}" for n in names})
    return session.table(result)
