"""bench/spark_plans.py's reading of a Spark plan (docs/scale-out.md, "The models' plans on a
cluster"): a global total's partial sums in one task are harmless, un-aggregated rows are not; a
nested-loop join is reported with its broadcast side; each Python evaluation is counted. Plans as
Spark 4.0's `explain` prints them, cut down."""

import importlib.util

from census_pipeline.lib.codes import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location("spark_plans", PROJECT_ROOT / "bench" / "spark_plans.py")
spark_plans = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(spark_plans)

TOTAL = """== Physical Plan ==
AdaptiveSparkPlan isFinalPlan=false
+- HashAggregate(keys=[], functions=[sum(n#1L)])
   +- Exchange SinglePartition, ENSURE_REQUIREMENTS, [plan_id=165]
      +- HashAggregate(keys=[], functions=[partial_sum(n#1L)])
         +- FileScan parquet spark_catalog.microdata.persons[n#1L]"""

RANKED_CENSUS = """== Physical Plan ==
AdaptiveSparkPlan isFinalPlan=false
+- Window [row_number() windowspecdefinition(uid#2 ASC NULLS FIRST) AS rn#3]
   +- Sort [uid#2 ASC NULLS FIRST], false, 0
      +- Exchange SinglePartition, ENSURE_REQUIREMENTS, [plan_id=7]
         +- FileScan parquet spark_catalog.microdata.persons[uid#2]"""

CROSS_WITH_REPLICATES = """== Physical Plan ==
AdaptiveSparkPlan isFinalPlan=false
+- BroadcastNestedLoopJoin BuildRight, Cross
   :- FileScan parquet spark_catalog.microdata.persons[ea_code#1]
   +- BroadcastExchange IdentityBroadcastMode, [plan_id=9]
      +- Range (1, 11, step=1, splits=2)
+- BatchEvalPython [census_stable_hash(uid#2)#5], [pythonUDF0#6]
+- BatchEvalPython [census_stable_hash(uid#2)#7], [pythonUDF0#8]"""


def test_a_global_total_is_not_rows_in_one_task():
    assert spark_plans.findings(TOTAL) == {"one task": [], "nested loop": [], "python": []}
    # Splink's min and max of a string column: a sort-based partial aggregate
    sorted_total = TOTAL.replace("HashAggregate(keys=[], functions=[partial_sum(n#1L)])",
                                 "SortAggregate(key=[], functions=[partial_min(s#1), partial_max(s#1)])")
    assert spark_plans.findings(sorted_total)["one task"] == []


def test_a_window_over_every_row_is_rows_in_one_task():
    window = TOTAL.replace("HashAggregate(keys=[], functions=[partial_sum(n#1L)])",
                           "HashAggregate(keys=[name#2], functions=[count(1)])")
    assert spark_plans.findings(window)["one task"] == ["HashAggregate(keys=[name#2], functions=[count(1)])"]


def test_the_census_ranked_in_one_task_is_found_with_what_feeds_it():
    found = spark_plans.findings(RANKED_CENSUS)
    assert found["one task"] == ["FileScan parquet spark_catalog.microdata.persons[uid#2]"]


def test_a_nested_loop_join_names_its_broadcast_side_and_python_evaluations_are_counted():
    found = spark_plans.findings(CROSS_WITH_REPLICATES)
    assert found["nested loop"] == ["BroadcastExchange IdentityBroadcastMode, [plan_id=9]"]
    assert len(found["python"]) == 2 and found["one task"] == []


def test_a_left_built_nested_loop_join_names_its_left_child():
    left = CROSS_WITH_REPLICATES.replace("BuildRight", "BuildLeft")
    assert spark_plans.findings(left)["nested loop"] == ["FileScan parquet spark_catalog.microdata.persons[ea_code#1]"]
