"""Statements compiled once and run straight on the session's DB-API connection.

For the few statements hot paths run thousands of times (the outcome of each delivered message;
an API event's statements under SQLite's write lock): SQLAlchemy's execution machinery
(execution context, compiled cache lookup, parameter construction, result wrapping) costs
0.2-0.5 ms per statement on a small machine, many times what SQLite or PostgreSQL need to run
it. A `DriverStatement` is an ordinary Core statement with named bind parameters, compiled for
the session's dialect on first use; each call converts the parameters with the column types' own
bind processors (so a datetime or a JSON value is stored exactly as the ORM would store it) and
hands SQL and parameters to the driver's cursor; `records()` converts the values it reads with
the column types' result processors. It runs inside the session's transaction, which the caller
commits as usual; the ORM knows nothing of the change (and does not autoflush before it), so the
caller keeps the objects it holds in step (`set_committed`, or SQLAlchemy's
`set_committed_value` for a relationship).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from webapp.extensions import db

_Processor = Callable[[Any], Any] | None


class _Compiled:
    __slots__ = ("sql", "binds", "positional", "literals", "dialect", "result_types", "columns")

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        # (name, bind processor or None), in the order a positional paramstyle needs.
        self.binds: list[tuple[str, _Processor]] = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in (compiled.positiontup or compiled.binds)
        ]
        # (key, type) of each column a SELECT or RETURNING gives back; their result processors
        # are made when the first rows come, with the driver's type codes (psycopg's Numeric
        # processor depends on the column's database type).
        self.dialect = dialect
        self.result_types = [
            (column.keyname, column.type.dialect_impl(dialect))
            for column in compiled._result_columns
        ]
        self.columns: list[tuple[str, _Processor]] | None = None
        # Values written into the statement (`outcome == "applied"`, `.limit(1)`) are bound
        # parameters too, with their value fixed when the statement was built.
        self.literals: dict[str, Any] = {
            name: bind.value
            for name, bind in compiled.binds.items()
            if bind.value is not None and bind.callable is None
        }

    def result_columns(self, description: Any) -> list[tuple[str, _Processor]]:
        """(key, result processor or None) of each column of a result."""
        if self.columns is None:
            self.columns = [
                (key, impl.result_processor(self.dialect, column[1]))
                for (key, impl), column in zip(self.result_types, description, strict=True)
            ]
        return self.columns

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        if self.literals:
            values = {**self.literals, **values}
        processed = [
            (name, values[name] if processor is None else processor(values[name]))
            for name, processor in self.binds
        ]
        if self.positional:
            return tuple(value for _, value in processed)
        return dict(processed)


_CONNECTION = "webapp.rawsql.connection"


def _connection() -> Any:
    """The connection of the session's current transaction (begun if needed), as
    Session.connection() returns it; remembered in Session.info for the transaction's further
    statements (a hot path runs several per transaction)."""
    session = db.session()
    known = session.info.get(_CONNECTION)
    transaction = session.get_transaction()
    if (
        known is not None
        and transaction is not None
        and known[0] is transaction
        and transaction.is_active  # else Session.connection() raises (e.g. a failed flush)
    ):
        return known[1]
    connection = session.connection()  # begins the session's transaction if needed
    session.info[_CONNECTION] = (session.get_transaction(), connection)
    return connection


class DriverStatement:
    """A Core statement run on the DB-API cursor of the session's current transaction.

    Every bind parameter without a value of its own must be given by name on each call (no
    column defaults, no `onupdate` columns filled in: name them in the statement).
    """

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return compiled

    def _run(self, values: Mapping[str, Any]) -> tuple[Any, _Compiled]:
        connection = _connection()
        compiled = self._for(connection.dialect)
        parameters = compiled.parameters(values)
        cursor = connection.connection.cursor()
        listeners = connection.dispatch.before_cursor_execute
        if listeners:  # statement counters and SQL logging see these statements too
            listeners(connection, cursor, compiled.sql, parameters, None, False)
        try:
            cursor.execute(compiled.sql, parameters)
        except connection.dialect.loaded_dbapi.Error as exc:
            cursor.close()
            # As SQLAlchemy reports it for its own statements: a unique violation is an
            # sqlalchemy.exc.IntegrityError the callers already handle.
            raise DBAPIError.instance(
                compiled.sql,
                parameters,
                exc,
                connection.dialect.loaded_dbapi.Error,
                dialect=connection.dialect,
            ) from exc
        except BaseException:
            cursor.close()
            raise
        return cursor, compiled

    def execute(self, values: Mapping[str, Any]) -> int:
        """Run the statement once; returns the number of rows it changed."""
        cursor, _ = self._run(values)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def all(self, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of a SELECT, as the driver returns them (no result processing)."""
        cursor, _ = self._run(values)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    def records(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row of a SELECT (or RETURNING) as a dict by column key, each value converted
        by its column type as SQLAlchemy would (a datetime, a decoded JSON value)."""
        cursor, compiled = self._run(values)
        try:
            rows = cursor.fetchall()
            columns = compiled.result_columns(cursor.description)
        finally:
            cursor.close()
        return [
            {
                key: value if convert is None else convert(value)
                for (key, convert), value in zip(columns, row, strict=True)
            }
            for row in rows
        ]

    def first(self, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a SELECT, as the driver returns it (no result processing)."""
        cursor, _ = self._run(values)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()


T = TypeVar("T")


_ATTRIBUTE_KEYS: dict[type, dict[str, str]] = {}


def attribute_keys(model: Any) -> dict[str, str]:
    """Column key -> mapped attribute key of a model's table columns."""
    keys = _ATTRIBUTE_KEYS.get(model)
    if keys is None:
        mapper = model.__mapper__
        keys = _ATTRIBUTE_KEYS[model] = {
            column.key: mapper.get_property_by_column(column).key
            for column in model.__table__.columns
        }
    return keys


_SAME_KEYS: dict[type, bool] = {}


def _by_attribute(
    model: Any, attributes: dict[str, str], values: Mapping[str, Any]
) -> Mapping[str, Any]:
    """A row's values by attribute key (the row itself where every column key is one)."""
    same = _SAME_KEYS.get(model)
    if same is None:
        same = _SAME_KEYS[model] = all(key == value for key, value in attributes.items())
    if same:
        return values
    return {attributes[column]: value for column, value in values.items()}


def labelled(name: str, model: Any) -> list[Any]:
    """Every table column of `model`, labelled `<name>__<column key>`: the columns of several
    rows read by one statement (a join), told apart again by `split_record`."""
    return [column.label(f"{name}__{column.key}") for column in model.__table__.columns]


_LABELS: dict[str, tuple[str, str]] = {}


def split_record(record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A record of `labelled` columns as {name: {column key: value}}."""
    rows: dict[str, dict[str, Any]] = {}
    for label, value in record.items():
        parts = _LABELS.get(label)
        if parts is None:
            name, _, column = label.partition("__")
            parts = _LABELS[label] = (name, column)
        row = rows.get(parts[0])
        if row is None:
            row = rows[parts[0]] = {}
        row[parts[1]] = value
    return rows


def set_committed(instance: Any, values: Mapping[str, Any]) -> None:
    """Set column attributes (by attribute key) and mark them unchanged, as loading them
    would: `set_committed_value` for several columns at once. Not for relationships."""
    state = instance_state(instance)
    state.dict.update(values)
    state._commit(state.dict, values)  # noqa: SLF001 - what set_committed_value calls per key


def persistent(
    model: type[T], values: Mapping[str, Any], *, refresh: bool = False, session: Any = None
) -> T:
    """The session's object of `model` for a row read with `records()` (every column of its
    table, by column key): the one already in the identity map, with its expired attributes
    that hold no change filled in from the row (what a query without populate_existing does;
    with `refresh`, every column attribute, a change made to it dropped, as populate_existing
    does for columns; relationships already loaded are left as they are), else a new
    persistent object, as if loaded by a query. `session`: the current session (db.session()
    when not given).

    For models with an integer primary key `id` and no inheritance. Like every DriverStatement,
    the read before it does not flush the session: callers read rows before they change them.
    """
    attributes = attribute_keys(model)
    if session is None:
        session = db.session()
    # The identity key of a model without inheritance: (class, primary key, identity token).
    key = (model, (values["id"],), None)
    known = session.identity_map.get(key)
    if known is not None:
        if refresh:
            set_committed(known, _by_attribute(model, attributes, values))
            return known  # type: ignore[no-any-return]
        known_state = inspect(known)
        expired: set[str] = known_state.expired_attributes
        for column, value in values.items():
            attribute = attributes[column]
            # An expired attribute set since holds a change (in the object's dict): kept.
            if attribute in expired and attribute not in known_state.dict:
                set_committed_value(known, attribute, value)
        return known  # type: ignore[no-any-return]
    # As the ORM's loading builds a loaded object (sqlalchemy.orm.loading._instance): no
    # constructor, the values straight into its dict (no attribute events, no change history),
    # its identity set and the state put into the identity map, unchanged; what is not in the
    # dict (relationships) loads on first access. Session.add would cascade along every
    # relationship and cost as much as the whole row.
    loaded = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    loaded.__dict__.update(_by_attribute(model, attributes, values))
    state = instance_state(loaded)
    state.key = key
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)  # noqa: SLF001 - as loading does
    if session.dispatch.loaded_as_persistent:
        session.dispatch.loaded_as_persistent(session, state)
    return loaded  # type: ignore[no-any-return]


def get_loaded(model: type[T], ident: Any) -> T | None:
    """`db.session.get(model, ident)`, without its overhead when the object is already loaded
    (in the identity map and not expired), as on the delivery path, which looks up the same
    account, rule and template for every message of a batch. For models with an integer
    primary key `id` and no inheritance."""
    session = db.session()
    known = session.identity_map.get((model, (ident,), None))
    if known is not None and not instance_state(known).expired:
        return known  # type: ignore[no-any-return]
    return session.get(model, ident)
