"""Column lineage of a dbt model from its compiled SQL, and that SQL made safe to show.

`column_lineage` says, for each column a model writes, which columns of the tables it reads the
value comes from. It parses the compiled SQL with sqlglot (DuckDB's dialect, or Spark's for a Spark run) and needs only the
column lists of the tables read (for `select *`); it never opens the warehouse. A column depends on

- the columns its expression reads, followed through CTEs, subqueries and unions; and
- the columns that choose or group its rows on the way (WHERE, GROUP BY, HAVING, QUALIFY), so that
  a count such as `count(*) as population` leads to the county it is grouped by and to the
  `is_counted` filter that decides who is counted.

Join keys are left out: they match rows rather than choose them, and would tie every column of a
join to every key. A correlated subquery's filter follows the outer table it names; the filter of
an `exists (...)` adds nothing. A column sqlglot cannot follow (a `*` over a table whose columns
are unknown, a column of an unknown table, a parse failure) is reported as unresolved rather than
guessed.

`cached_column_lineage` keeps each result by a hash of what it rests on, in a JSON file between
runs (`read_cache`, `write_cache`), so that an unchanged model is not parsed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp, parse_one
from sqlglot.lineage import Node, to_node
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope, find_all_in_scope
from sqlglot.schema import MappingSchema

Relation = tuple[str, str]  # (schema, table), lower case
Dep = tuple[str, str, str]  # (schema, table, column), lower case
ROW_CLAUSES = ("where", "group", "having", "qualify")
RULES_VERSION = "1"  # in every cache key: change it when what counts as a dependency changes


@dataclass(frozen=True)
class ModelLineage:
    """Upstream columns of each resolved column; the columns left without lineage, and why."""

    deps: dict[str, tuple[Dep, ...]]
    unresolved: tuple[str, ...] = ()
    reason: str = ""


@dataclass
class _Tracer:
    schema: MappingSchema
    known: Mapping[Relation, Sequence[str]]
    dialect: str
    cache: dict = field(default_factory=dict)  # sqlglot's node cache, shared by every column
    scope_meta: dict = field(default_factory=dict)
    by_node: dict[int, frozenset[Dep] | None] = field(default_factory=dict)
    by_scope: dict[int, frozenset[Dep] | None] = field(default_factory=dict)
    scopes: dict[int, Scope] = field(default_factory=dict)

    def node(self, column: str, scope: Scope) -> Node:
        # sqlglot's own walker; its caches (underscored arguments) are shared by every column of the
        # model, which makes a wide model cheap. sqlglot is locked (requirements.lock) with dagster-dbt.
        return to_node(column, scope, self.dialect, schema=self.schema, trim_selects=False,
                       _cache=self.cache, _scope_meta=self.scope_meta)

    def deps(self, node: Node) -> frozenset[Dep] | None:
        """Every table column under `node` (None: some part cannot be followed)."""
        if id(node) in self.by_node:
            return self.by_node[id(node)]
        self.by_node[id(node)] = None  # a cycle, were there one, stays unresolved
        found = self._leaf(node) if not node.downstream else set()
        for child in node.downstream:
            sub = self.deps(child) if found is not None else None
            found = None if sub is None else found | sub
        scope = self.scopes.get(id(node.source))
        if found is not None and scope is not None and isinstance(scope.expression, exp.Select):
            rows = self.row_deps(scope)
            found = None if rows is None else found | rows
        self.by_node[id(node)] = None if found is None else frozenset(found)
        return self.by_node[id(node)]

    def _leaf(self, node: Node) -> set[Dep] | None:
        if node.name == "*" or node.name.endswith(".*") or isinstance(node.expression, exp.Placeholder):
            return None  # a star sqlglot could not expand, or a column of an unknown source
        if isinstance(node.expression, exp.Table):
            # the name is the column as written, `alias.column`: split, not parsed (parsing is slow)
            return self._table_column(node.expression, node.name.rsplit(".", 1)[-1].strip('"'))
        return set()  # a literal, or a row count: its rows are added by the select's clauses

    def _table_column(self, table: exp.Table, column: str) -> set[Dep] | None:
        relation = (table.db.lower(), table.name.lower())
        if column.lower() not in self.known.get(relation, ()):
            return None  # not a column of a known table (e.g. a lambda variable): do not guess
        return {(*relation, column.lower())}

    def row_deps(self, scope: Scope) -> frozenset[Dep] | None:
        """The columns that choose or group the rows of one SELECT."""
        if id(scope) in self.by_scope:
            return self.by_scope[id(scope)]
        self.by_scope[id(scope)] = None
        select = scope.expression
        found: set[Dep] | None = set()
        columns: list[exp.Column] = []
        subqueries: list[exp.Query] = []
        for clause in ROW_CLAUSES:
            part = select.args.get(clause)
            if part is None:
                continue
            columns += find_all_in_scope(part, exp.Column)
            subqueries += find_all_in_scope(part, *exp.UNWRAPPED_QUERIES)
            if clause == "group" and part.args.get("all"):  # GROUP BY ALL: the plain projections
                for projection in select.selects:
                    if not projection.find(exp.AggFunc):
                        columns += find_all_in_scope(projection, exp.Column)
        for column in columns:
            source, outer = None, scope
            while source is None and outer is not None:  # a correlated subquery names an outer table
                source, outer = outer.sources.get(column.table), outer.parent
            if isinstance(source, exp.Table):
                sub = self._table_column(source, column.name)
            elif isinstance(source, Scope):
                sub = self.deps(self.node(column.name, source))
            else:
                sub = None
            found = None if sub is None or found is None else found | sub
        inner = {id(s.expression): s for s in scope.subquery_scopes}
        for query in subqueries:  # `x in (select code from ...)`; `exists (select 1 ...)` adds nothing
            sub_scope = inner.get(id(query))
            for projection in query.selects:
                if sub_scope is None or not projection.find(exp.Column):
                    sub = set() if sub_scope else None
                else:
                    sub = self.deps(self.node(projection.alias_or_name, sub_scope))
                found = None if sub is None or found is None else found | sub
        self.by_scope[id(scope)] = None if found is None else frozenset(found)
        return self.by_scope[id(scope)]


def column_lineage(sql: str, tables: Mapping[Relation, Sequence[str]], columns: Iterable[str],
                   dialect: str = "duckdb") -> ModelLineage:
    """The lineage of `columns` (the model's own, as the warehouse has them) from its compiled
    `sql`; `tables` gives the columns of every table the SQL may read, by (schema, table)."""
    columns = [c.lower() for c in columns]
    # in the warehouse's column order: `select *` on both sides of a UNION pairs columns by position
    known = {(s.lower(), t.lower()): tuple(c.lower() for c in cols) for (s, t), cols in tables.items()}
    try:
        expression = parse_one(sql, dialect=dialect)
        read: dict[str, dict[str, dict[str, str]]] = {}
        for table in expression.find_all(exp.Table):
            table.set("catalog", None)  # the database is the warehouse file's name: it varies
            relation = (table.db.lower(), table.name.lower())
            if relation in known:  # only the tables this SQL reads: the schema is rebuilt per model
                read.setdefault(relation[0], {})[relation[1]] = dict.fromkeys(known[relation], "unknown")
        schema = MappingSchema(read, dialect=dialect)
        expression = qualify(expression, dialect=dialect, schema=schema, validate_qualify_columns=False,
                             identify=False)
        root = build_scope(expression)
        if root is None:
            return ModelLineage({}, tuple(columns), "not a query")
        tracer = _Tracer(schema, known, dialect, scopes={id(s.expression): s for s in root.traverse()})
        selected = {s.alias_or_name.lower(): s.alias_or_name for s in root.expression.selects}
        deps: dict[str, tuple[Dep, ...]] = {}
        unresolved = []
        for column in columns:
            found = tracer.deps(tracer.node(selected[column], root)) if column in selected else None
            if found is None:
                unresolved.append(column)
            else:
                deps[column] = tuple(sorted(found))
        return ModelLineage(deps, tuple(unresolved))
    except Exception as e:  # sqlglot raises many kinds; lineage must never fail a build
        return ModelLineage({}, tuple(columns), f"{type(e).__name__}: {e}"[:200])


def cache_key(sql: str, tables: Mapping[Relation, Sequence[str]], columns: Sequence[str]) -> str:
    """A hash of all a model's lineage rests on: its SQL, its own columns, the columns of every
    table its SQL names (a superset of those it reads: no parse needed), the rules' and sqlglot's
    versions."""
    text = sql.lower()
    named = sorted([s, t, list(cols)] for (s, t), cols in tables.items() if t.lower() in text)
    blob = json.dumps([RULES_VERSION, sqlglot.__version__, sql, list(columns), named], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def cached_column_lineage(sql: str, tables: Mapping[Relation, Sequence[str]], columns: Sequence[str],
                          cache: MutableMapping[str, dict], dialect: str = "duckdb") -> ModelLineage:
    """`column_lineage`, looked up in `cache` first (an unchanged model is not parsed again) and
    stored there after (as JSON-ready lists); the entry used moves last, the oldest stay first."""
    key = cache_key(sql, tables, columns)
    try:
        hit = cache[key] = cache.pop(key)
        return ModelLineage({c: tuple(tuple(d) for d in deps) for c, deps in hit["deps"].items()},
                            tuple(hit["unresolved"]), hit["reason"])
    except (KeyError, TypeError, ValueError):  # not there, or not in the shape written below
        found = column_lineage(sql, tables, columns, dialect)
        cache[key] = {"deps": {c: [list(d) for d in deps] for c, deps in found.deps.items()},
                      "unresolved": list(found.unresolved), "reason": found.reason}
        return found


CACHE_ENTRIES = 500  # models x versions kept: the project has ~60 SQL models


def read_cache(path: Path) -> dict:
    """The cache `write_cache` left; empty if there is none or it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_cache(path: Path, cache: dict) -> None:
    """Merged with what another run may have written since, `cache`'s entries last, the oldest
    dropped; written whole and renamed into place, so that a reader never sees half a file."""
    merged = {k: v for k, v in read_cache(path).items() if k not in cache}
    merged.update(cache)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(dict(list(merged.items())[-CACHE_ENTRIES:]), ensure_ascii=False),
                       encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only checkout: the lineage is computed again next time
        tmp.unlink(missing_ok=True)


# 18-character (and old 15-digit) citizen ID numbers, GB 11643; region codes (6) and dates (8)
# are far shorter
_ID_NUMBER = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")


def sql_hazards(sql: str, secrets: Iterable[str] = ()) -> list[str]:
    """Why `sql` must not be shown (empty: it may): a secret it holds, or a literal that looks like
    a citizen ID number. Compiled model SQL holds neither by design (the pseudonym key reaches
    DuckDB as session variables); this keeps it so if a model or seed ever changes that."""
    hazards = ["it holds a secret" for s in secrets if s and s in sql][:1]
    if _ID_NUMBER.search(sql):
        hazards.append("it holds a literal that looks like a citizen ID number")
    return hazards
