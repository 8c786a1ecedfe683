"""Pinyin of every character used in a name (register or census), for the homophone level of
record linkage (王伟 / 王玮 read the same). Set-based: only the few thousand distinct characters
pass through Python (pypinyin); names take their pinyin in SQL (macros/linkage.sql)."""


def model(dbt, session):
    dbt.config(materialized="table")
    import pandas as pd
    from pypinyin import Style, lazy_pinyin

    registrants = dbt.ref("stg_registers__hukou_registrants")
    census = dbt.ref("int_persons_edited")
    characters = session.sql(f"""
        select distinct unnest(string_split(person_name, '')) as character
        from (select person_name from ({registrants.sql_query()})
              union all select person_name from ({census.sql_query()}))
        where person_name is not null
    """).fetchall()
    rows = [(c, lazy_pinyin(c, style=Style.NORMAL)[0]) for (c,) in characters if c.strip()]
    return pd.DataFrame(rows, columns=["character", "pinyin"])
