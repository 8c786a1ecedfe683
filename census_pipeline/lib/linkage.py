"""Probabilistic record linkage (Splink 5, on DuckDB or Spark) of what the ID numbers leave unlinked.

Register records and census records that no valid ID number links are compared on the name
(exact with term-frequency adjustment, same pinyin, one given-name character apart split by
name length), sex, birth date, place and the census record's own ID number (one edit from the
register's: a transposed or mistyped digit). Everything runs as SQL in the warehouse's DuckDB
connection; Splink's work tables live in a scratch schema that is dropped afterwards. On Spark
(the dbt Python models handed a SparkSession) the same model, SQL and one-to-one rule run through
Splink's SparkAPI, the work tables as temp views dropped afterwards (`_Spark`); the SQL is written
once where the two engines agree and the few differences are `_DuckDB`'s and `_Spark`'s.

Training: m probabilities come from the ID-linked pairs (true matches with their real name,
birth and place disagreements: typos, homophones, people registered in one township and
living in another), not from EM alone; u probabilities from all pairs of the whole register
and census (chance agreement in the population), counted exactly from value frequencies, not
sampled; the prior match probability from a strict deterministic rule on the residue (same
name, sex and birth month). Both are computed here in SQL (`estimate_m`, `estimate_u`), not by
Splink's trainers (33 s of a 79 s linkage at 12 M persons); Splink predicts. One-to-one: `cluster_using_single_best_links` with
ties broken by the lowest id. A register pair is accepted at a match probability of MATCH_THRESHOLD,
a coverage-survey pair at PES_MATCH_THRESHOLD (link_residue's `threshold`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

MATCH_THRESHOLD = 0.99  # documented in docs/linkage.md: accept a pair at P(match) >= 0.99
# The coverage survey's matching takes a pair that is more likely a match than not: in the
# dual-system estimate a missed match and a false one bias the omission rate in opposite
# directions, so the PES wants as few errors as possible, not a precision of its own
# (docs/linkage.md). The register comparison keeps 0.99: a false link there hides an omission.
PES_MATCH_THRESHOLD = 0.5
TRAINING_PAIRS = 200_000  # ID-linked pairs used to estimate m (a sample when there are more)
TRAINING_SEED = 20201101  # which pairs the sample takes
MAX_COMPARISONS = 500_000_000  # blocked pairs: above this, stop and say which rule explodes
MIN_TRAINING = 1_000  # fewer ID-linked pairs or records than this: keep the priors
SCRATCH = "linkage_work"  # Splink's work tables (restricted; dropped after each run)
CHECKPOINTS_CONF = "census.checkpoints"  # a Spark session's conf: the folder of Splink's Parquet work tables

BLOCKING_RULES = [
    # a name spelled differently: same birth date, sex and surname. Without the surname the pairs
    # grew with the square of the census (12 M persons: 10.0 M pairs, 45 s of prediction, against
    # 70 k at 1 M), and every link only this rule found shared the surname anyway (91 of 43,641
    # register links at 12 M, 6 of 3,553 at 1 M; of the survey's, 1 of 15,053 at 12 M did not)
    "l.birth_date = r.birth_date and l.sex = r.sex and l.surname = r.surname",
    "l.name = r.name and l.birth_ym = r.birth_ym",
    # a homophone (静/婧): same pinyin in the same county, born the same year. Without the year the
    # pairs grew with the square of the county (12 M persons: 2.33 M register pairs and 1.06 M
    # survey pairs, against 15.6 k at 1 M); with it 71 k and 30 k, and the same links: the 3 register
    # links and the 1 survey link only this rule found at 12 M were all born the same year
    "l.name_pinyin = r.name_pinyin and l.county_code = r.county_code "
    "and floor(l.birth_ym / 100) = floor(r.birth_ym / 100)",
    "l.surname = r.surname and l.birth_ym = r.birth_ym and l.township_code = r.township_code",
]

COLUMNS = ("record_id, name, surname, name_length, name_mask2, name_mask3, name_mask4, name_pinyin, sex, "
           "birth_date, birth_ym, township_code, county_code, id_number, id_valid")

log = logging.getLogger(__name__)


def _level(sql: str, label: str, **extra) -> dict:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def settings(name_frequencies: bool = True) -> dict:
    """The linkage model: comparisons and their levels (Splink settings as a dict). The m and u
    values written here are priors, used only where training sees no pair at a level (a small
    census); the ID comparison's m values are fixed (see the level). `name_frequencies`: an
    exact name counts for less when the name is common (term-frequency adjustment; only
    meaningful on a census large enough to know how common a name is)."""
    tf = {"tf_adjustment_column": "name", "tf_adjustment_weight": 1.0} if name_frequencies else {}
    one_char = ('name_length_l = name_length_r and (name_mask2_l = name_mask2_r '
                'or name_mask3_l = name_mask3_r or name_mask4_l = name_mask4_r)')
    return {
        "link_type": "link_only",
        "unique_id_column_name": "record_id",
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r} for r in BLOCKING_RULES],
        "retain_intermediate_calculation_columns": False,
        "retain_matching_columns": False,
        "comparisons": [
            {"output_column_name": "name", "comparison_description": "name (characters, pinyin)",
             "comparison_levels": [
                 _level('name_l is null or name_r is null', "null", is_null_level=True),
                 _level('name_l = name_r', "exact", m_probability=0.9, u_probability=0.001, **tf),
                 _level('name_pinyin_l = name_pinyin_r', "same pinyin (homophone)", m_probability=0.03,
                        u_probability=0.0005),
                 _level(f'name_length_l >= 3 and {one_char}', "one character apart, 3+ characters",
                        m_probability=0.03, u_probability=0.002),
                 _level(f'name_length_l = 2 and {one_char}', "one character apart, 2 characters",
                        m_probability=0.02, u_probability=0.01),
                 _level("else", "different", m_probability=0.02, u_probability=0.98),
             ]},
            {"output_column_name": "sex", "comparison_description": "sex",
             "comparison_levels": [
                 _level('sex_l is null or sex_r is null', "null", is_null_level=True),
                 _level('sex_l = sex_r', "same", m_probability=0.99, u_probability=0.5),
                 _level("else", "different", m_probability=0.01, u_probability=0.5),
             ]},
            {"output_column_name": "birth", "comparison_description": "birth date (or month)",
             "comparison_levels": [
                 _level('birth_ym_l is null or birth_ym_r is null', "null", is_null_level=True),
                 _level('birth_date_l = birth_date_r', "same date", m_probability=0.9, u_probability=0.0001),
                 # one side knows only the month (no valid ID): agreeing is what a match does; ID-linked
                 # training pairs always have both dates, so this m is set, not trained
                 _level('(birth_date_l is null or birth_date_r is null) and birth_ym_l = birth_ym_r',
                        "same month, a date unknown", m_probability=0.97, fix_m_probability=True, u_probability=0.001),
                 _level('birth_ym_l = birth_ym_r', "same month, dates differ", m_probability=0.08,
                        u_probability=0.001),
                 _level('floor(birth_ym_l / 100) = floor(birth_ym_r / 100)', "same year",
                        m_probability=0.01, u_probability=0.012),
                 _level("else", "different", m_probability=0.01, u_probability=0.987),
             ]},
            {"output_column_name": "place", "comparison_description": "township (registered / counted)",
             "comparison_levels": [
                 _level('township_code_l is null or township_code_r is null', "null", is_null_level=True),
                 _level('township_code_l = township_code_r', "same township", m_probability=0.8,
                        u_probability=0.02),
                 _level('county_code_l = county_code_r', "same county", m_probability=0.1, u_probability=0.1),
                 _level("else", "elsewhere", m_probability=0.1, u_probability=0.88),
             ]},
            {"output_column_name": "id_number", "comparison_description": "ID number as written",
             "comparison_levels": [
                 _level('id_number_l is null or id_number_r is null', "null", is_null_level=True),
                 # in the residue the IDs never agree exactly: one edit (transposed, mistyped or
                 # lost digit) is what a true pair shows; its m is set, not trained on ID links
                 _level('damerau_levenshtein(id_number_l, id_number_r) <= 1', "one edit apart",
                        m_probability=0.95, fix_m_probability=True, u_probability=0.000001),
                 # two valid ID numbers that differ: two people (a typo rarely yields a valid number)
                 _level('id_valid_l and id_valid_r', "both valid, different", m_probability=0.005,
                        fix_m_probability=True, u_probability=0.9),
                 _level("else", "different", m_probability=0.045, fix_m_probability=True, u_probability=0.099999),
             ]},
        ],
    }


class _DuckDB:
    """The linkage's SQL on DuckDB: work tables in the current database (a scratch one)."""

    spark = False
    integer = "hugeint"  # exact pair counts, as estimate_u has always cast them

    def __init__(self, con) -> None:
        self.con = getattr(con, "_cursor", con)  # dbt-duckdb hands Python models a wrapper of the cursor

    def scalar(self, sql: str):
        return self.con.execute(sql).fetchall()[0][0]

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def table(self, name: str, sql: str) -> None:
        self.con.execute(f"create or replace table {name} as {sql}")

    def view(self, name: str, sql: str) -> None:
        self.con.execute(f"create view {name} as {sql}")


class _Spark:
    """The same SQL on a SparkSession: work tables are temp views over local checkpoints (Spark's
    block store: memory, and executors' local disk when full; gone with the session), dropped
    after the linkage."""

    spark = True
    integer = "decimal(38,0)"  # Spark has no hugeint: its widest exact integer

    def __init__(self, session) -> None:
        self.con = session
        self.names: list[str] = []
        self.api = _spark_api(session)

    def scalar(self, sql: str):
        return self.con.sql(sql).collect()[0][0]

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.con.sql(sql).collect()]

    def keep(self, name: str, frame):
        frame = frame.localCheckpoint()
        frame.createOrReplaceTempView(name)
        self.names.append(name)
        return frame

    def table(self, name: str, sql: str):
        return self.keep(name, self.con.sql(sql))

    def view(self, name: str, sql: str) -> None:
        self.con.sql(sql).createOrReplaceTempView(name)
        self.names.append(name)


def _engine(con):
    if isinstance(con, _DuckDB | _Spark):
        return con
    return _Spark(con) if type(con).__module__.startswith("pyspark") else _DuckDB(con)


def link_residue(con, tables: dict[str, str], threshold: float = MATCH_THRESHOLD) -> tuple[str, dict]:
    """Link the register records and census records no ID links. Returns the name of a temp
    table (on Spark a temp view) of accepted one-to-one pairs (person_no, census_record_id,
    match_probability, match_weight) and figures of the run. `con`: DuckDB's connection or a
    SparkSession. `tables` names, in `con`: register, census (all records), register_residue,
    census_residue, id_links. `threshold`: the match probability a pair needs."""
    db = _engine(con)
    started = time.monotonic()
    result = "linkage_probabilistic_pairs"
    if db.spark:
        try:
            stats = _link(db, tables, result, threshold)
        except BaseException:
            try:  # Spark may still be writing after an interrupt: the linkage's own error is the one to raise
                _drop_spark_work(db, keep=result)
            except Exception as e:
                log.warning("Splink's work tables could not all be deleted after the linkage failed (%s): delete "
                            "the __splink__ folders under the run directory's checkpoints/", type(e).__name__)
            raise
        _drop_spark_work(db, keep=result)
    else:
        stats = _link_in_scratch(db, tables, result, threshold)
    stats["seconds"] = round(time.monotonic() - started, 1)
    log.info("probabilistic linkage: %s", stats)
    if os.environ.get("CENSUS_LINKAGE_STATS"):  # the benchmark's record of where the time went (counts only)
        with open(os.environ["CENSUS_LINKAGE_STATS"], "a") as f:
            f.write(json.dumps({"tables": tables["register_residue"], **stats}) + "\n")
    return result, stats


def _link_in_scratch(db: _DuckDB, tables: dict[str, str], result: str, threshold: float) -> dict:
    con = db.con
    database, schema = con.execute("select current_database(), current_schema()").fetchall()[0]
    # Splink's work tables (~150 of them, names and birth dates among their columns) live in a
    # database in memory, spilling to DuckDB's temp directory when large, not in the warehouse
    # file: nothing of them is left in the warehouse or its WAL. (No faster at 1 M: measured.)
    # Splink finds its tables by unqualified name: work there.
    # One per linkage (dbt builds the register's and the survey's at the same time, and a DuckDB
    # database attached by one connection is attached for all of them).
    scratch = f"{SCRATCH}_{hashlib.sha256(tables['register_residue'].encode()).hexdigest()[:8]}"
    con.execute(f"detach database if exists {scratch}")
    con.execute(f"attach ':memory:' as {scratch}")
    con.execute(f"use {scratch}")
    tables = {k: f'"{database}".{v}' if v.count(".") == 1 else v for k, v in tables.items()}
    try:
        return _link(db, tables, result, threshold)
    finally:
        con.execute(f'use "{database}"."{schema}"')
        con.execute(f"detach database if exists {scratch}")


def _drop_spark_work(db: _Spark, keep: str) -> None:
    """Drop the linkage's temp views and Splink's (its `__splink__` tables), and the Parquet files
    Splink wrote under the checkpoint directory (names and birth dates among their columns)."""
    spark = db.con
    for table in spark.catalog.listTables():
        if table.isTemporary and table.name != keep and (table.name in db.names or table.name.startswith("__splink__")):
            spark.catalog.dropTempView(table.name)
    folder = checkpoint_folder(spark)
    # Splink's work folders, and those of a run before 2026-12-05, one level down (Spark's own
    # checkpoint directory then, a folder per session)
    left = [*folder.glob("__splink__*"), *folder.glob("*/__splink__*")]  # (none when there is no folder)
    for path in left:
        shutil.rmtree(path)
    remaining = [p.name for p in left if p.exists()]
    if remaining:
        raise RuntimeError(f"Splink's work tables (names and birth dates among their columns) are still in {folder}: "
                           f"{', '.join(remaining[:3])}")


def delete_work_files(folder: Path) -> None:
    """Delete Splink's work files (its `__splink__` folders: names and birth dates among their
    columns) at any depth under `folder`: what runs stopped before their linkages' own clean-up
    (_drop_spark_work, of the linkage's own folder) left. For a run's start, when no linkage of the
    folder can be running (spark_dbt: one process per run directory, one lease per server)."""
    for path in list(folder.rglob("__splink__*")):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():  # (gone with a folder above it)
            path.unlink()


def checkpoint_folder(spark) -> Path:
    """Where Splink writes its intermediate tables as Parquet: the run directory's checkpoints/,
    which census_pipeline/spark_dbt.py names in the session's conf (`census.checkpoints`, a file:
    URI, so that a Spark Connect server writes it to that file system and not to its default
    one), read back here the same way for Spark in this process and for a server (whose driver has
    no Python SparkContext to ask). On a cluster, shared storage that this machine mounts at the
    same path: the run deletes the files itself."""
    from census_pipeline.spark_dbt import local_path

    return local_path(spark.conf.get(CHECKPOINTS_CONF), "the folder of Splink's work tables")


def _spark_api(session):
    """Splink's SparkAPI over `session`, writing its SQL with sqlglot's own Spark dialect. Splink
    writes it with `customspark`, a subclass of sqlglot's Spark generator; the compiled sqlglot of
    the lock (sqlglotc, mypyc) refuses to instantiate an interpreted subclass ("interpreted
    classes cannot inherit from compiled"). That dialect's one rule is kept (_double_literal).
    Creating it registers Splink's functions in the session (damerau_levenshtein: the ID number's
    one-edit level, which estimate_m evaluates too)."""
    import sqlglot
    from splink import SparkAPI

    class CompiledSqlglotSparkAPI(SparkAPI):
        def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
            # as Splink's: the first statement, transpiled
            return sqlglot.parse(sql, read="spark")[0].transform(_double_literal).sql(dialect="spark", pretty=True)

        def _get_checkpoint_dir_path(self, spark_df) -> str:
            # Splink asks the JVM's SparkContext, which a Spark Connect session has none of
            return self.spark.conf.get(CHECKPOINTS_CONF)  # the file: URI itself

    # Splink's intermediate tables as Parquet in the run directory's checkpoints/ (its default off
    # Databricks), deleted by _drop_spark_work
    return CompiledSqlglotSparkAPI(spark_session=session, break_lineage_method="parquet")


def _splink_api(db):
    if db.spark:
        return db.api
    from splink import DuckDBAPI

    return DuckDBAPI(connection=db.con)


def _double_literal(node):
    """Splink's customspark dialect's one rule (splink/internals/spark/spark_helpers): a literal
    cast to double becomes a double literal."""
    from sqlglot import exp

    if (isinstance(node, exp.Cast | exp.TryCast) and node.to.sql(dialect="spark").lower() == "double"
            and node.this.key == "literal" and node.name != "Infinity"):
        return exp.Var(this=f"{node.name}D")
    return node


def _link(db, tables: dict[str, str], result: str, threshold: float) -> dict:
    from splink import Linker
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    clock = [time.monotonic()]

    def lap(part: str) -> None:  # seconds per part of the linkage, in stats["seconds_by_part"]
        now = time.monotonic()
        stats.setdefault("seconds_by_part", {})[part] = round(now - clock[0], 1)
        clock[0] = now

    for name in ("register", "census", "register_residue", "census_residue"):
        db.view(name, f"select {COLUMNS} from {tables[name]}")  # no copy: Splink reads by name
    db.table("train_labels", f"""
        select 'register' as source_dataset_l, person_no as record_id_l,
               'census' as source_dataset_r, census_record_id as record_id_r
        from {tables['id_links']}
        where not needs_clerical_review
        -- the same sample on every run and engine: chosen by a hash of the key, not by the table's
        -- physical order (a reservoir sample follows it, and it changes from one build to the next)
        order by md5(person_no || ':{TRAINING_SEED}'), person_no
        limit {TRAINING_PAIRS}
    """)
    count = {t: db.scalar(f"select count(*) from {t}")
             for t in ("register", "census", "register_residue", "census_residue", "train_labels")}
    if db.spark:  # the answer, empty until one-to-one fills it (a census with no pair leaves it so)
        db.con.createDataFrame([], RESULT_SCHEMA).createOrReplaceTempView(result)
    else:
        db.con.execute(f"""create or replace temp table {result} (person_no varchar, census_record_id varchar,
                           match_probability double, match_weight double)""")
    stats = {"register_residue": count["register_residue"], "census_residue": count["census_residue"],
             "training_pairs": count["train_labels"], "candidate_pairs": 0}
    lap("inputs")
    if not count["register_residue"] or not count["census_residue"]:
        return stats

    # m from the ID-linked pairs, u from all pairs of the whole register and census; on a census
    # too small to estimate them (a test, a pilot) the priors in settings() stand
    large = min(count["register"], count["census"]) >= MIN_TRAINING
    model = settings(name_frequencies=large)
    stats["m_trained"] = count["train_labels"] >= MIN_TRAINING
    stats["u_trained"] = large
    if stats["m_trained"]:
        estimate_m(db, model, "train_labels")
    lap("train_m")
    if stats["u_trained"]:
        id_linked = db.scalar(f"select count(*) from {tables['id_links']}")
        estimate_u(db, model, "register", "census", id_linked)
    lap("train_u")

    # the prior on the residue: pairs a strict rule accepts, taken as 90% of the true ones (a
    # hash join, unlike an ID-distance rule); at least one, at most half of all pairs
    strict = db.scalar("""
        select count(*) from register_residue as l inner join census_residue as r
        on l.name = r.name and l.sex = r.sex and l.birth_ym = r.birth_ym
    """)
    all_pairs = count["register_residue"] * count["census_residue"]
    model["probability_two_random_records_match"] = min(0.5, max(1, strict) / 0.9 / all_pairs)
    stats["prior"] = model["probability_two_random_records_match"]
    lap("prior")

    # predict and resolve one-to-one, among the records that share a blocking key with the other
    # side: no other record can be paired. (At Hangzhou's size the PES residue is 20 k persons and
    # its census candidates 11.4 M; Splink prepared all 11.4 M for prediction.)
    # The larger side first, against the smaller one; then the smaller side against what was kept of
    # the larger: a record shares a key with the other side exactly when it shares one with a record
    # that shares a key with it. (Against the whole larger side, the survey's 20 k persons probed
    # 11.4 M census records four times: 10 CPU-s at 12 M, against 0.1.)
    sides = [("register", "l", "census", "r"), ("census", "r", "register", "l")]
    if count["census_residue"] > count["register_residue"]:
        sides.reverse()
    for i, (side, alias, other, other_alias) in enumerate(sides):
        against = f"{other}_residue" if i == 0 else f"{other}_blockable"
        shares_a_key = " or ".join(f"exists (select 1 from {against} as {other_alias} where {rule})"
                                   for rule in BLOCKING_RULES)
        db.table(f"{side}_blockable", f"select * from {side}_residue as {alias} where {shares_a_key}")
    stats["blockable"] = [db.scalar(f"select count(*) from {t}_blockable") for t in ("register", "census")]
    lap("blockable")
    if not all(stats["blockable"]):  # no record shares a blocking key with the other side: no pair
        return stats
    api = _splink_api(db)
    inputs = [api.register("register_blockable", table_name="register"),
              api.register("census_blockable", table_name="census")]
    # size the blocking before predicting: exact pair counts per rule, and a hard stop well
    # before the machine's memory (12 M persons measured at tens of millions of pairs)
    counted = count_comparisons_from_blocking_rules(
        inputs, blocking_rules=BLOCKING_RULES, link_type="link_only", unique_id_column_name="record_id",
        record_sample_proportion=1.0)
    stats["comparisons_by_rule"] = [r["marginal_comparison_count"] for r in counted]
    total = counted[-1]["cumulative_comparison_count"] if counted else 0
    lap("count_blocking")
    if total > MAX_COMPARISONS:
        raise RuntimeError(f"probabilistic linkage would compare {total:,} pairs (more than {MAX_COMPARISONS:,}): "
                           f"per rule {stats['comparisons_by_rule']}; tighten BLOCKING_RULES in {__name__}")
    linker = Linker(inputs, model, log_level=logging.WARNING)
    if large:  # how common each name is in the whole register and census, not in the residue alone
        # the total as an aggregate of the counts, not a window over all of them: `sum() over ()`
        # sends every distinct name to one task on Spark (bench/spark_plans.py --linkage)
        db.table("name_frequencies", """
            with counts as (
                select name, count(*) as n
                from (select name from register union all select name from census) as names
                where name is not null group by name
            )
            select c.name, c.n / t.total as tf_name
            from counts as c cross join (select sum(n) as total from counts) as t
        """)
        linker.table_management.register_term_frequency_lookup(api.register("name_frequencies"), "name")
    lap("name_frequencies")
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    lap("predict")
    stats["candidate_pairs"] = db.scalar(f"select count(*) from {predictions.physical_name}")
    db.table("candidate_pairs", f"""
        -- each prediction oriented register -> census, whichever side Splink put it on
        select case when source_dataset_l = 'register' then record_id_l else record_id_r end as person_no,
               case when source_dataset_l = 'register' then record_id_r else record_id_l end as census_record_id,
               match_probability, match_weight
        from {predictions.physical_name}
    """)
    stats["clustering_rounds"] = one_to_one(db, "candidate_pairs", result, threshold)
    lap("cluster")
    return stats


RESULT_SCHEMA = "person_no string, census_record_id string, match_probability double, match_weight double"


def one_to_one(con, pairs: str, result: str, threshold: float = MATCH_THRESHOLD) -> int:
    """Splink's single-best-links clustering of register x census pairs (both sides free of
    duplicates, ties to the lowest id), written for pairs: in each round, a pair of two records
    still unlinked is accepted when it is the best (highest probability, then lowest id) of each
    of its two records among their pairs with records still unlinked; rounds repeat until none is
    accepted. Inserts the accepted pairs at `threshold` or above into `result` (on Spark: makes
    `result` the temp view of them); returns the rounds. (Splink's own SQL for this was planned
    by DuckDB as a nested-loop join of every record with every other: 12 s for 7 k records at 1 M
    persons, 238 s at 12 M; same links.)"""
    db = _engine(con)
    if db.spark:
        return _one_to_one_spark(db, pairs, result, threshold)
    con = db.con
    con.execute(f"create temp table _open as select * from {pairs} where match_probability >= {threshold}")
    rounds = 0
    while True:
        rounds += 1
        con.execute("""
            create or replace temp table _accepted as
            select * from _open
            qualify rank() over (partition by person_no order by match_probability desc, census_record_id) = 1
                and rank() over (partition by census_record_id order by match_probability desc, person_no) = 1
        """)
        accepted = con.execute("select count(*) from _accepted").fetchall()[0][0]
        if not accepted:
            break
        con.execute(f"insert into {result} select person_no, census_record_id, match_probability, match_weight "
                    "from _accepted")
        con.execute("""
            delete from _open where person_no in (select person_no from _accepted)
                or census_record_id in (select census_record_id from _accepted)
        """)
    con.execute("drop table _open; drop table _accepted")
    return rounds


def _one_to_one_spark(db: _Spark, pairs: str, result: str, threshold: float) -> int:
    """one_to_one's rounds on Spark (no qualify, no delete): what is still open is a new view
    each round, and the result grows by each round's accepted pairs."""
    db.keep(result, db.con.createDataFrame([], RESULT_SCHEMA))
    db.table("_open", f"select * from {pairs} where match_probability >= {threshold}")
    rounds = 0
    while True:
        rounds += 1
        accepted = db.table("_accepted", """
            select person_no, census_record_id, match_probability, match_weight from (
                select *,
                       rank() over (partition by person_no order by match_probability desc, census_record_id) as best_l,
                       rank() over (partition by census_record_id order by match_probability desc, person_no) as best_r
                from _open) as ranked
            where best_l = 1 and best_r = 1
        """)
        if accepted.isEmpty():
            break
        db.table(result, f"select * from {result} union all select * from _accepted")
        db.table("_open", """
            select * from _open as o
            where not exists (select 1 from _accepted as a where a.person_no = o.person_no)
              and not exists (select 1 from _accepted as a where a.census_record_id = o.census_record_id)
        """)
    return rounds


def _comparison_levels(model: dict):
    """Each comparison with its levels numbered in order; the null level is -1 (as Splink's gamma)."""
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        yield comparison, [(-1 if lv.get("is_null_level") else n, lv) for n, lv in enumerate(levels)]


def estimate_m(con, model: dict, labels: str) -> None:
    """m of every level not fixed: its share of the labelled true pairs, null levels aside (what
    Splink's estimate_m_from_pairwise_labels computes; the same values at 1 M persons), in one
    pass of SQL over `labels` (record_id_l in `register`, record_id_r in `census`). A level no
    labelled pair shows keeps its prior."""
    db = _engine(con)
    sides = ", ".join(f"l.{c} as {c}_l, r.{c} as {c}_r" for c in (c.strip() for c in COLUMNS.split(",")))
    comparisons = list(_comparison_levels(model))
    levels_sql = ", ".join(
        "case " + " ".join(f"when {lv['sql_condition']} then {n}" for n, lv in levels if lv["sql_condition"] != "else")
        + f" else {levels[-1][0]} end as level_{k}" for k, (_, levels) in enumerate(comparisons))
    counts = db.rows(f"""
        with pairs as (
            select {sides} from {labels} as p
            inner join register as l on l.record_id = p.record_id_l
            inner join census as r on r.record_id = p.record_id_r
        )
        select *, count(*) from (select {levels_sql} from pairs) as levels group by all
    """)
    for k, (_comparison, levels) in enumerate(comparisons):
        seen: dict[int, int] = {}
        for row in counts:
            seen[row[k]] = seen.get(row[k], 0) + row[-1]
        total = sum(v for n, v in seen.items() if n != -1)
        for n, lv in levels:
            if n != -1 and seen.get(n) and not lv.get("fix_m_probability"):
                lv["m_probability"] = seen[n] / total


def estimate_u(con, model: dict, register: str, census: str, id_linked: int) -> None:
    """u of every level: its share of ALL register x census pairs, null levels aside, counted
    exactly in set-based SQL from how many records hold each value on each side (pairs equal on
    a key = sum over its values of n_register x n_census), where Splink sampled 2 million random
    pairs (10-20 s, and a few dozen pairs at the rare levels). `id_linked`: pairs the same valid
    ID number links.

    The one level whose m is set for a record state, not trained, gets u for the same state:
    "same month, a date unknown" (m 0.97: P(same month | match)) takes u = P(same month) over
    all pairs. Counted like the others it would be P(a date unknown and same month), 200 times
    smaller at 12 M persons (almost every register and census record has its date): the level
    then weighed 17.4 bits, more than an exact birth date (14.6), and two people of the same name,
    sex and birth month, one registered and never counted, one counted without an ID number,
    were linked: 181 of the 183 false links at 12 M persons (docs/linkage.md)."""
    # the name's other columns (pinyin, length, masks) follow from the name: group by it alone
    name_columns = ", ".join(f"any_value({c}) as {c}" for c in
                             ("name_pinyin", "name_length", "name_mask2", "name_mask3", "name_mask4"))
    groups = {"names": (f"name, {name_columns}", "name"), "births": ("birth_date, birth_ym", "all"),
              "sexes": ("sex", "all"), "places": ("township_code, county_code", "all"),
              "ids": ("id_number is not null as present, coalesce(id_valid, false) as valid", "all")}
    # in the current database: during a linkage the scratch one, detached afterwards with the
    # names these tables hold (a temp table would outlive the linkage in the dbt session); on
    # Spark temp views, dropped after the linkage
    db = _engine(con)
    for side, table in (("r", register), ("c", census)):
        for kind, (columns, by) in groups.items():
            db.table(f"_u_{kind}_{side}", f"select {columns}, count(*) as n from {table} group by {by}")

    def pairs(kind: str, key: str, where: str = "true") -> int:  # pairs whose `key` is equal, not null
        return int(db.scalar(f"""
            select cast(coalesce(sum(r.n * c.n), 0) as {db.integer})
            from (select {key} as k, sum(n) as n from _u_{kind}_r where {where} and {key} is not null group by all) as r
            inner join (select {key} as k, sum(n) as n from _u_{kind}_c where {where} and {key} is not null
                        group by all) as c using (k)"""))

    def both(kind: str, where: str) -> int:  # pairs of a register and a census record both meeting `where`
        r, c = (int(db.scalar(f"select cast(coalesce(sum(n), 0) as {db.integer}) from _u_{kind}_{side} where {where}"))
                for side in ("r", "c"))
        return r * c

    total = both("names", "name is not null")
    exact, pinyin = pairs("names", "name"), pairs("names", "name_pinyin")

    def one_char(length: str) -> int:
        # names equal but for their k-th character (k = 2, 3, 4: at most one k for two different
        # names), less those that read the same (homophones, an earlier level); identical names
        # are in both terms and cancel
        return sum(pairs("names", mask, length) - pairs("names", f"({mask}, name_pinyin)", length)
                   for mask in ("name_mask2", "name_mask3", "name_mask4"))
    longer, two = one_char("name_length >= 3"), one_char("name_length = 2")
    u = {"name": {"exact": exact, "same pinyin (homophone)": pinyin - exact,
                  "one character apart, 3+ characters": longer, "one character apart, 2 characters": two,
                  "different": total - pinyin - longer - two, None: total}}
    total, same = both("sexes", "sex is not null"), pairs("sexes", "sex")
    u["sex"] = {"same": same, "different": total - same, None: total}
    total = both("births", "birth_ym is not null")
    date, month, year = (pairs("births", k) for k in ("birth_date", "birth_ym", "floor(birth_ym / 100)"))
    dated_month = pairs("births", "birth_ym", "birth_date is not null")
    u["birth"] = {"same date": date, "same month, a date unknown": month,  # P(same month): see above
                  "same month, dates differ": dated_month - date, "same year": year - month,
                  "different": total - year, None: total}
    total = both("places", "township_code is not null")
    township, county = pairs("places", "township_code"), pairs("places", "county_code", "township_code is not null")
    u["place"] = {"same township": township, "same county": county - township, "elsewhere": total - county,
                  None: total}
    # two ID numbers of a random pair agree (or are one edit apart) essentially only when they are
    # one person's: the ID-linked pairs (a join of the two sides' numbers would count the same)
    total, both_valid = both("ids", "present"), both("ids", "present and valid")
    u["id_number"] = {"one edit apart": id_linked, "both valid, different": both_valid - id_linked,
                      "different": total - both_valid, None: total}
    for comparison in model["comparisons"]:
        counts = u[comparison["output_column_name"]]
        for lv in comparison["comparison_levels"]:
            if not lv.get("is_null_level") and counts[None]:
                lv["u_probability"] = max(int(counts[lv["label_for_charts"]]), 1) / int(counts[None])
