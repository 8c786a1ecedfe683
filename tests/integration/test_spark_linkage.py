"""The linkage's own SQL on Spark (census_pipeline/lib/linkage.py, `_Spark`): m and u estimated and
pairs resolved one-to-one as on DuckDB, on hand-written records where the engines' SQL could part:
a name longer than four characters has no pinyin, so its "one character apart" keys are rows with
a null field (both engines' row equality takes null fields as equal: checked, not assumed); ties
and more than one accepting round in one-to-one (the union of the rounds failed on Spark once).
And, in the same session, the long-form estimates' decimal weight (dbt_project/macros/long_form.sql)
at a half-person boundary, where Spark once published a figure one person above DuckDB's.

Starts a Spark session in this process (local[1], ~15 s; slow)."""

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from census_pipeline.lib.engine import engine_settings
from census_pipeline.lib.linkage import (
    checkpoint_folder,
    estimate_m,
    estimate_u,
    link_residue,
    one_to_one,
    settings,
)
from tests.builders import debian_tool
from tests.unit.test_linkage_training import CENSUS, REGISTER, _table

pytestmark = pytest.mark.slow

# five characters: no pinyin; the two differ in the third, so they agree on name_mask3 with a null
# pinyin beside it (estimate_u's row key (name_mask3, name_pinyin))
LONG_NAMES = ([("r6", "欧阳娜娜拉", None, "2", "1990-01-02", 199001, "330106001", None, None)],
              [("c8", "欧阳丽娜拉", None, "2", "1990-01-02", 199001, "330106001", None, None)])
SCHEMA = ("record_id string, name string, surname string, name_length bigint, name_mask2 string, "
          "name_mask3 string, name_mask4 string, name_pinyin string, sex string, birth_date date, "
          "birth_ym bigint, township_code string, county_code string, id_number string, id_valid boolean")
# register x census pairs: P1 is best for C1 and C2 (0.99 each: the lower id, C1, wins); P2 then
# takes C2 in the second round; P3's only pair is below the threshold
PAIRS = [("P1", "C1", 0.99, 7.0), ("P1", "C2", 0.99, 7.0), ("P2", "C2", 0.98, 6.0), ("P2", "C1", 0.97, 5.0),
         ("P3", "C3", 0.5, 0.0)]


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from census_pipeline.spark_dbt import start_session

    debian_tool("java", "openjdk-17-jre-headless")
    run_dir = tmp_path_factory.mktemp("spark_linkage")
    session = start_session(engine_settings({"CENSUS_SPARK_DIR": str(run_dir), "CENSUS_SPARK_MASTER": "local[1]"},
                                            run_dir / "w.duckdb"))
    yield session
    session.stop()


@pytest.fixture
def both(spark):
    duck = duckdb.connect()
    _table(duck, "register", REGISTER + LONG_NAMES[0])
    _table(duck, "census", CENSUS + LONG_NAMES[1])
    for name in ("register", "census"):
        spark.createDataFrame(duck.execute(f"select * from {name}").fetchall(), SCHEMA).createOrReplaceTempView(name)
    yield duck, spark
    duck.close()
    for name in ("register", "census", "labels", "pairs", "linked"):
        spark.catalog.dropTempView(name)


def _levels(model) -> dict:
    return {(c["output_column_name"], lv["label_for_charts"]): (lv.get("m_probability"), lv.get("u_probability"))
            for c in model["comparisons"] for lv in c["comparison_levels"]}


def test_u_and_m_are_the_same_on_spark(both):
    duck, spark = both
    labels = [("r1", "c1"), ("r2", "c2"), ("r3", "c4"), ("r4", "c5"), ("r6", "c8")]
    duck.execute("create table labels (record_id_l varchar, record_id_r varchar)")
    duck.executemany("insert into labels values (?, ?)", labels)
    spark.createDataFrame(labels, "record_id_l string, record_id_r string").createOrReplaceTempView("labels")
    on_duckdb, on_spark = settings(), settings()
    for con, model in ((duck, on_duckdb), (spark, on_spark)):
        estimate_u(con, model, "register", "census", 1)
        estimate_m(con, model, "labels")
    assert _levels(on_spark) == _levels(on_duckdb)
    # the case is there: a row key with a null field that DuckDB's join matches
    assert duck.execute("""select count(*) from register as r inner join census as c
                           on (r.name_mask3, r.name_pinyin) = (c.name_mask3, c.name_pinyin)
                           where r.name_pinyin is null""").fetchall() == [(1,)]


def test_one_to_one_accepts_the_same_pairs_on_spark(both):
    duck, spark = both
    duck.execute("create table pairs (person_no varchar, census_record_id varchar, match_probability double, "
                 "match_weight double)")
    duck.executemany("insert into pairs values (?, ?, ?, ?)", PAIRS)
    duck.execute("create temp table linked as select * from pairs limit 0")
    spark.createDataFrame(PAIRS, "person_no string, census_record_id string, match_probability double, "
                                 "match_weight double").createOrReplaceTempView("pairs")
    assert one_to_one(duck, "pairs", "linked", 0.9) == one_to_one(spark, "pairs", "linked", 0.9) == 3
    want = sorted(duck.execute("select * from linked").fetchall())
    assert want == [("P1", "C1", 0.99, 7.0), ("P2", "C2", 0.98, 6.0)]
    assert sorted(tuple(r) for r in spark.table("linked").collect()) == want


def test_a_linkage_in_this_process_leaves_none_of_splink_s_work_files(both, spark, monkeypatch):
    """The whole linkage (Splink's SparkAPI, its work tables written as Parquet under the run
    directory's checkpoints/) on Spark in this process: it finds the pairs DuckDB finds, and
    afterwards no `__splink__` folder is left there (names and birth dates among their columns),
    nor one a run before 2026-12-05 left a level down."""

    duck, _ = both
    links = "person_no string, census_record_id string, needs_clerical_review boolean"
    spark.createDataFrame([], links).createOrReplaceTempView("id_links")
    duck.execute("create table id_links (person_no varchar, census_record_id varchar, needs_clerical_review boolean)")
    tables = {"register": "register", "census": "census", "register_residue": "register",
              "census_residue": "census", "id_links": "id_links"}
    folder = checkpoint_folder(spark)
    old = folder / "0f1e2d3c-old-session" / "__splink__df_predict_old"
    old.mkdir(parents=True, exist_ok=True)
    import census_pipeline.lib.linkage as linkage

    deleted, rmtree = [], linkage.shutil.rmtree

    def deleting(path, *more, **named):  # the real deletion, noted: where Splink's files were
        deleted.append(Path(path))
        return rmtree(path, *more, **named)

    monkeypatch.setattr(linkage.shutil, "rmtree", deleting)
    result, stats = link_residue(spark, tables, threshold=0.5)
    monkeypatch.undo()
    got = sorted((r.person_no, r.census_record_id) for r in spark.table(result).collect())
    want_result, _ = link_residue(duck, {k: f"main.{v}" for k, v in tables.items()}, threshold=0.5)
    assert got == sorted(duck.execute(f"select person_no, census_record_id from {want_result}").fetchall())
    assert got and stats["candidate_pairs"] > 0
    # Splink wrote its work tables where the run deletes them (not somewhere else, left behind)
    assert any(p.parent == folder and p.name.startswith("__splink__df_predict") for p in deleted), deleted
    assert old in deleted
    assert not list(folder.glob("__splink__*")) and not list(folder.glob("*/__splink__*"))
    spark.catalog.dropTempView("id_links")
    spark.catalog.dropTempView(result)


@pytest.fixture
def metastore_tables(both, spark):
    """The test's records as tables of the metastore, as the Python models read theirs (a session's
    temp views are its own), the linkage's `tables`; and the pairs DuckDB links among them."""
    duck, _ = both
    for name in ("register", "census"):
        spark.table(name).write.mode("overwrite").saveAsTable(f"default.twin_{name}")
    links = "person_no string, census_record_id string, needs_clerical_review boolean"
    spark.createDataFrame([], links).write.mode("overwrite").saveAsTable("default.twin_id_links")
    roles = {"register": "register", "census": "census", "register_residue": "register",
             "census_residue": "census", "id_links": "id_links"}
    duck.execute("create table id_links (person_no varchar, census_record_id varchar, needs_clerical_review boolean)")
    want_result, _ = link_residue(duck, {k: f"main.{v}" for k, v in roles.items()}, threshold=0.5)
    want = sorted(duck.execute(f"select person_no, census_record_id from {want_result}").fetchall())
    yield {k: f"default.twin_{v}" for k, v in roles.items()}, want
    for name in ("register", "census", "id_links"):
        spark.sql(f"drop table if exists default.twin_{name}").collect()


def test_two_linkages_at_once_each_in_a_session_of_its_own(metastore_tables, spark, monkeypatch):
    """dbt builds two models at a time on Spark, so the register's linkage and the survey's may run
    together. Their work tables (the linkage's and Splink's) are temp views of fixed names, and
    each linkage drops its own at the end: in one session they would read and drop each other's.
    Each Python model has a session of its own (spark_dbt.model_session), with its own folder for
    Splink's files: two linkages in two such sessions at the same time each find the pairs DuckDB
    finds, and leave no work file behind."""
    import threading
    import time

    import census_pipeline.lib.linkage as linkage
    from census_pipeline.spark_dbt import model_session

    tables, want = metastore_tables
    deleted, rmtree = [], linkage.shutil.rmtree

    def deleting(path, *more, **named):  # the real deletion, noted: where Splink's files were
        deleted.append(Path(path))
        return rmtree(path, *more, **named)

    monkeypatch.setattr(linkage.shutil, "rmtree", deleting)
    got, spans, folders, errors = {}, {}, {}, []

    def link(relation: str) -> None:
        try:
            with model_session(relation) as session:
                started = time.monotonic()
                result, _ = link_residue(session, tables, threshold=0.5)
                got[relation] = sorted((r.person_no, r.census_record_id) for r in session.table(result).collect())
                spans[relation] = (started, time.monotonic())
                folders[relation] = checkpoint_folder(session)
        except BaseException as e:  # noqa: BLE001 - raised in the test's thread below
            errors.append(e)

    threads = [threading.Thread(target=link, args=(f"intermediate.twin_{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    monkeypatch.undo()
    if errors:
        raise errors[0]
    assert got == {"intermediate.twin_1": want, "intermediate.twin_2": want} and want
    (a0, a1), (b0, b1) = spans.values()
    assert a0 < b1 and b0 < a1, spans  # they did run at the same time
    parent = checkpoint_folder(spark)
    assert sorted(folders.values()) == [parent / "intermediate.twin_1", parent / "intermediate.twin_2"]
    for folder in folders.values():  # each wrote its files in its own folder, and deleted them
        assert any(p.parent == folder and p.name.startswith("__splink__") for p in deleted), (folder, deleted)
    assert not list(parent.rglob("__splink__*"))


def test_a_model_s_linkage_stops_when_the_run_cancels_and_the_next_start_leaves_no_work_file(metastore_tables,
                                                                                               spark, tmp_path):
    """Ctrl-C while a Python model links on Spark in the run's process: the run cancels the jobs of
    its session (spark_dbt.cancel_jobs, every half second while dbt runs), which reaches the model's
    own session (one Spark context): the linkage fails. Whatever Splink's files a write still in
    flight left, the next start of a session on the run directory deletes (they hold names and
    birth dates). (The whole-run interrupt test stops its run at the first table, before the models.)"""
    import threading
    import time

    from census_pipeline.spark_dbt import _prepare, cancel_jobs, model_session

    tables, _ = metastore_tables
    folder = checkpoint_folder(spark) / "intermediate.stopped"
    outcome: list = []

    def link() -> None:
        try:
            with model_session("intermediate.stopped") as session:
                link_residue(session, tables, threshold=0.5)
            outcome.append("finished")
        except BaseException as e:  # noqa: BLE001 - what the test checks
            outcome.append(e)

    thread = threading.Thread(target=link)
    thread.start()
    deadline = time.monotonic() + 300
    while thread.is_alive() and not folder.exists() and time.monotonic() < deadline:  # Splink is writing
        time.sleep(0.05)
    while thread.is_alive() and time.monotonic() < deadline:
        cancel_jobs(spark)
        time.sleep(0.2)
    thread.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], Exception), outcome
    assert re.search(r"cancel", str(outcome[0]), re.I), str(outcome[0])[-2000:]
    while spark.sparkContext.statusTracker().getActiveJobsIds():  # the cancelled tasks end
        time.sleep(0.2)
    run_dir = checkpoint_folder(spark).parent
    _prepare(spark, engine_settings({"CENSUS_SPARK_DIR": str(run_dir)}, tmp_path / "w.duckdb"))
    assert not list(checkpoint_folder(spark).rglob("__splink__*"))


LONG_FORM_MACROS = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "long_form.sql"


def test_the_long_form_weight_keeps_its_places_on_spark_as_on_duckdb(spark):
    """3 sampled persons times a weight of 18.8333... is 56.499999999999: just under half a person
    over 56. The macro's own product, as its source writes it, on a DOUBLE weight and a BIGINT count
    as the model has them, must give that on both engines: Spark kept only 6 places of the earlier
    form (a decimal(38, 12) times a bigint), 56.500000, and published 57 where DuckDB published 56."""
    expression = re.search(r"s\.category,\s*(.+?)\s+as weight\b", LONG_FORM_MACROS.read_text(), re.S).group(1)
    sql = (f"select {expression} as weight from (select cast(18.833333333333332 as double) as weight) as w "
           "cross join (select cast(3 as bigint) as n_persons) as s")
    on_duckdb = duckdb.sql(sql).fetchall()[0][0]
    on_spark = spark.sql(sql).collect()[0][0]
    assert on_duckdb == on_spark == Decimal("56.499999999999"), (expression, on_duckdb, on_spark)


def test_a_folder_a_stopped_write_left_is_cleared_and_the_table_builds(spark):
    """A run stopped while Spark was writing a table leaves that table's folder, not empty (the
    write's _temporary files), with no table of the metastore owning it; Spark then refuses to
    create the table there (LOCATION_ALREADY_EXISTS), and the rerun failed at that model (CI, stop
    29). The build's clearing removes exactly such folders among the relations it is about to make:
    never a folder of a table the metastore knows, nor one the build does not make."""
    from census_pipeline.spark_dbt import clear_orphan_locations, local_path

    warehouse = local_path(spark.conf.get("spark.sql.warehouse.dir"), "the session's warehouse")
    spark.sql("create database if not exists stopped_write")
    try:
        spark.sql("create table stopped_write.kept using parquet as select 1 as a").collect()
        for name in ("cut_short", "not_built_here"):
            part = warehouse / "stopped_write.db" / name / "_temporary" / "0" / "_temporary" / "attempt_0"
            part.mkdir(parents=True)
            (part / "part-00000.snappy.parquet").write_bytes(b"PAR1 cut short")
        with pytest.raises(Exception, match="LOCATION_ALREADY_EXISTS"):
            spark.sql("create table stopped_write.cut_short using parquet as select 2 as a").collect()

        cleared = clear_orphan_locations(spark, warehouse, {("stopped_write", "cut_short"), ("stopped_write", "kept"),
                                                            ("stopped_write", "absent"), ("no_such_schema", "t")})
        assert cleared == ["stopped_write.cut_short"]
        assert not (warehouse / "stopped_write.db" / "cut_short").exists()
        assert (warehouse / "stopped_write.db" / "not_built_here").is_dir()
        assert spark.sql("select a from stopped_write.kept").collect()[0][0] == 1
        spark.sql("create table stopped_write.cut_short using parquet as select 2 as a").collect()
        assert spark.sql("select a from stopped_write.cut_short").collect()[0][0] == 2
        assert clear_orphan_locations(spark, warehouse, {("stopped_write", "cut_short")}) == []
    finally:
        spark.sql("drop database if exists stopped_write cascade").collect()
