"""Pinyin of every character used in a name (register or census), for the homophone level of
record linkage (王伟 / 王玮 read the same). Set-based: only the few thousand distinct characters
pass through Python (pypinyin); names take their pinyin in SQL (macros/linkage.sql).

The same model on both engines: `session` is DuckDB's connection (dbt.ref gives relations) or,
on Spark, the SparkSession (dbt.ref gives DataFrames; census_pipeline/spark_dbt.py runs it)."""


def model(dbt, session):
    # file_format: dbt-spark writes a Python model's table as Delta unless told; Parquet as every
    # other Spark table here (dbt-duckdb reads no such setting)
    dbt.config(materialized="table", file_format="parquet")
    from pypinyin import Style, lazy_pinyin

    registrants = dbt.ref("stg_registers__hukou_registrants")
    census = dbt.ref("int_persons_edited")
    on_spark = type(session).__module__.startswith("pyspark")
    if on_spark:
        names = registrants.select("person_name").unionAll(census.select("person_name"))
        characters = (names.where("person_name is not null")
                      .selectExpr("explode(split(person_name, '')) as character").distinct().collect())
    else:
        characters = session.sql(f"""
            select distinct unnest(string_split(person_name, '')) as character
            from (select person_name from ({registrants.sql_query()})
                  union all select person_name from ({census.sql_query()}))
            where person_name is not null
        """).fetchall()
    rows = [(c, lazy_pinyin(c, style=Style.NORMAL)[0]) for (c,) in characters if c.strip()]
    if on_spark:
        return session.createDataFrame(rows, "character string, pinyin string")
    import pandas as pd

    return pd.DataFrame(rows, columns=["character", "pinyin"])
