"""dbt's order of work in a build (census_pipeline/lib/dbt_schedule.py), on the project's own graph as
`dbt build` links it (tests between a model and its children) and dbt's own GraphQueue."""

import threading
import time

import networkx as nx

from census_pipeline.lib.dbt_schedule import longest_chain_first, longest_chains, manifest_cost
from tests.dbt_helpers import manifest


def _build_graph():
    from dbt.compilation import Linker

    m = manifest()
    if not hasattr(m, "child_map"):
        m.build_parent_and_child_maps()  # as dbt's compile does before linking
    linker = Linker()
    linker.link_graph(m)
    linker.add_test_edges_1(m)  # as `dbt build` does by default (USE_FAST_TEST_EDGES off)
    return linker.graph


def _id(graph, name: str) -> str:
    return next(n for n in graph.nodes if n.startswith("model.") and n.endswith(f".{name}"))


def test_the_linkage_chain_comes_before_the_tables_beside_the_bulletin():
    """When the pinyin keys are built, the register's linkage (its chain: id links, residue, Splink,
    register links, linkage quality) goes before `persons` and `households`, which dbt's depth
    order put first, and so do the pinyin keys' tests, which the linkage waits for."""
    graph = _build_graph()
    chain = longest_chains(graph, manifest_cost(manifest()))
    for later in ("persons", "households", "int_registrants_matched", "int_pes_census"):
        assert chain[_id(graph, "int_linkage_register")] > chain[_id(graph, later)], later
    pinyin_tests = [t for t in graph.successors(_id(graph, "int_name_pinyin")) if t.startswith("test.")]
    assert pinyin_tests and all(chain[t] > chain[_id(graph, "persons")] for t in pinyin_tests)


def test_dbt_queue_hands_out_the_longest_chain_first_and_only_to_a_free_thread():
    """dbt's own GraphQueue over the whole project: its first node is the head of the longest
    chain; with one thread, a second `get` waits until the first node is marked done (dbt gave its
    pool every ready node at once, and the pool ran them first come, first served)."""
    from dbt.graph.queue import GraphQueue

    longest_chain_first()
    graph = _build_graph()
    chain = longest_chains(graph, manifest_cost(manifest()))
    queue = GraphQueue(nx.DiGraph(graph), manifest(), set(graph.nodes))
    queue.census_threads = 1
    first = queue.get()
    ready = [n for n in graph.nodes if graph.in_degree(n) == 0]
    assert chain[first.unique_id] == max(chain[n] for n in ready)
    taken = []
    waiting = threading.Thread(target=lambda: taken.append(queue.get()), daemon=True)
    waiting.start()
    time.sleep(1.0)
    assert not taken, "a second node was handed out while the only thread was busy"
    queue.mark_done(first.unique_id)
    waiting.join(10)
    assert taken and taken[0].unique_id != first.unique_id
