"""The sandboxed renderer for merchant-edited message templates, and the template checker."""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from html import unescape as html_unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateSyntaxError,
    nodes,
)
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS
from jinja2.parser import Parser
from jinja2.runtime import LoopContext, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape

from webapp.message_templates.caches import BoundedCache

if TYPE_CHECKING:
    from jinja2 import Template

    from webapp.message_templates.models import TemplateVariant

ROOT = Path(__file__).resolve().parent.parent.parent

# Babel locale per supported message language; English uses British conventions (£, 1 Mar 2025).
LOCALES: dict[str, str] = {
    "de": "de_DE",
    "en": "en_GB",
    "fr": "fr_FR",
    "it": "it_IT",
    "es": "es_ES",
    "nl": "nl_NL",
    "pl": "pl_PL",
    "sv": "sv_SE",
}

Kind = Literal["subject", "html", "text", "sms"]
KINDS: tuple[str, ...] = ("subject", "html", "text", "sms")
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Limits:
    """Bounds on one template: its source, its output, its render time and work."""

    source_chars: int = 64 * 1024
    output_chars: int = 256 * 1024
    seconds: float = 1.0
    # Loop iterations plus calls (macros, methods, filters run through `call`) per render.
    steps: int = 100_000
    # Largest string or list any single operation may produce (repetition, joins, macros).
    value_chars: int = 256 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Problem:
    """One finding of the checker: where (line, part) and a plain reason."""

    line: int | None
    message: str
    severity: Severity = "error"
    part: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"


class TemplateProblem(Exception):
    """A template cannot be rendered: a syntax error, a forbidden construct or a limit."""

    def __init__(self, message: str, line: int | None = None, part: str = ""):
        super().__init__(message)
        self.message = message
        self.line = line
        self.part = part

    @classmethod
    def from_problem(cls, problem: Problem) -> TemplateProblem:
        return cls(problem.message, problem.line, problem.part)

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"


class _LimitExceeded(Exception):
    """Raised inside a render when a bound is crossed; never visible to templates."""


@dataclass(frozen=True)
class Field:
    """One placeholder of the context schema: a value, a mapping of fields, or a list of them."""

    description: str
    example: str = ""
    fields: Mapping[str, Field] | None = None
    many: bool = False


# --- what templates may use ----------------------------------------------------------------

# `attr`, `format` and `xmlattr` reach attributes or format strings behind the sandbox's back
# or build markup from data; `safe` would let customer data bypass HTML escaping; `center`,
# `indent` pad by an arbitrary width (a memory bomb); `pprint`, `tojson`, `random`, `urlize`
# have no use in a message and `urlize` would add links an Amazon variant must not carry.
ALLOWED_FILTERS: frozenset[str] = frozenset(
    {
        "abs", "batch", "capitalize", "count", "d", "default", "dictsort", "e", "escape",
        "filesizeformat", "first", "float", "forceescape", "groupby", "int", "items", "join",
        "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr",
        "replace", "reverse", "round", "select", "selectattr", "slice", "sort", "string",
        "striptags", "sum", "title", "trim", "truncate", "unique", "upper", "urlencode",
        "wordcount", "wordwrap",
    }
)  # fmt: skip
OWN_FILTERS: tuple[str, ...] = ("money", "date", "datetime")
ALLOWED_TESTS: frozenset[str] = frozenset(DEFAULT_TESTS)
# Methods of text values a template may call; none of them can grow a string.
STR_METHODS: frozenset[str] = frozenset(
    {"upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
     "endswith", "split"}
)  # fmt: skip
LOOP_ATTRS: frozenset[str] = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0",
     "previtem", "nextitem", "cycle", "changed"}
)  # fmt: skip
FORBIDDEN_ATTRS: frozenset[str] = frozenset(
    {"mro", "format", "format_map", "func_globals", "gi_frame", "gi_code", "cr_frame",
     "f_globals", "f_locals", "f_back", "tb_frame"}
)  # fmt: skip
# Jinja's default globals and template internals, with a reason a merchant can act on.
UNAVAILABLE_NAMES: dict[str, str] = {
    "range": "range() is not available in message templates; loop over items instead",
    "lipsum": "lipsum() is not available in message templates",
    "cycler": "cycler() is not available in message templates; use loop.cycle(...)",
    "joiner": "joiner() is not available in message templates",
    "namespace": "namespace() is not available in message templates",
    "dict": "dict() is not available in message templates",
    "self": "'self' is not available in message templates",
    "super": "super() is not available in message templates",
}
AMAZON_LINK_PLACEHOLDERS = ("status_url", "tracking.url", "review_url")
_URL_RE = re.compile(r"(?i)\b(?:https?://|www\.)")


# --- the environment -----------------------------------------------------------------------


@dataclass
class _RenderState:
    limits: Limits
    locale: str
    deadline: float
    steps: int = 0


_state: ContextVar[_RenderState | None] = ContextVar("statuslink_render_state", default=None)


def _current() -> _RenderState:
    state = _state.get()
    if state is None:
        # Rendering outside render_sources() (e.g. a stray Template.render) still gets bounds.
        state = _RenderState(DEFAULT_LIMITS, "en_GB", time.monotonic() + DEFAULT_LIMITS.seconds)
        _state.set(state)
    return state


def _tick() -> None:
    state = _current()
    state.steps += 1
    if state.steps > state.limits.steps:
        raise _LimitExceeded(
            f"the template does too much work (more than {state.limits.steps} loop steps)"
        )
    if time.monotonic() > state.deadline:
        raise _LimitExceeded(f"rendering took longer than {state.limits.seconds:g} s")


def _check_size(value: Any) -> Any:
    limit = _current().limits.value_chars
    if isinstance(value, str | list | tuple) and len(value) > limit:
        raise _LimitExceeded(f"a value in the template grows beyond {limit} characters")
    return value


def _guarded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _tick()
        yield item


def _to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# --- locale formatting, memoised -------------------------------------------------------------

# Babel parses the locale and the number or date pattern on every call; a worker formats the
# same prices and dates in the same few locales over and over. The strings depend only on the
# key (the amount's exact text, the date, the pattern and the locale), so they are kept.
_FORMATTED: BoundedCache[str] = BoundedCache(4096)
_FORMATTED_MAX_CHARS = 200  # longer results (absurd amounts or patterns) are not kept


@functools.lru_cache(maxsize=64)
def babel_locale(identifier: str) -> Locale:
    """The parsed Babel locale for an identifier such as `de_DE` (parsed once per process)."""
    return Locale.parse(identifier)


def format_money_in(amount: Decimal | int | float, currency: str, locale: str) -> str:
    """`format_currency(amount, currency, locale=locale)`, memoised."""
    key = ("money", type(amount), str(amount), currency, locale)
    cached = _FORMATTED.get(key)
    if cached is None:
        cached = format_currency(amount, currency, locale=babel_locale(locale))
        if len(cached) <= _FORMATTED_MAX_CHARS:
            _FORMATTED.put(key, cached)
    return cached


def format_date_in(value: date | datetime, pattern: str, locale: str) -> str:
    """`format_date(value, format=pattern, locale=locale)`, memoised for plain dates."""
    if type(value) is not date:
        # Only plain dates are kept: aware datetimes compare equal across time zones.
        return format_date(value, format=pattern, locale=babel_locale(locale))
    key = ("date", value, pattern, locale)
    cached = _FORMATTED.get(key)
    if cached is None:
        cached = format_date(value, format=pattern, locale=babel_locale(locale))
        if len(cached) <= _FORMATTED_MAX_CHARS:
            _FORMATTED.put(key, cached)
    return cached


def _money_filter(value: Any, currency: str = "EUR") -> str:
    """Format an amount as money in the message's locale, e.g. `1.234,56 €` in German."""
    amount = _to_decimal(value)
    if amount is None:
        return ""
    return format_money_in(amount, str(currency)[:3].upper(), _current().locale)


_NAMED_FORMATS = ("short", "medium", "long", "full")


def _parse_when(value: Any) -> date | datetime | None:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _date_filter(value: Any, format: str = "medium") -> str:  # noqa: A002 - Jinja's name
    """Format a date (or an ISO date string) in the message's locale."""
    when = _parse_when(value)
    if when is None:
        return "" if value in (None, "") else str(value)
    pattern = format if format in _NAMED_FORMATS else str(format)[:40]
    return format_date_in(when, pattern, _current().locale)


def _datetime_filter(value: Any, format: str = "medium") -> str:  # noqa: A002
    """Format a date and time (or an ISO string) in the message's locale."""
    when = _parse_when(value)
    if when is None:
        return "" if value in (None, "") else str(value)
    if not isinstance(when, datetime):
        return format_date_in(when, "medium", _current().locale)
    pattern = format if format in _NAMED_FORMATS else str(format)[:40]
    return format_datetime(when, format=pattern, locale=_current().locale)


def _bounded(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)  # keeps Jinja's pass_context/pass_environment marker
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _tick()
        result = func(*args, **kwargs)
        if isinstance(result, Iterator):
            # Lazy results (batch, slice, map, select, …) are built while they are consumed,
            # so every item they yield counts as a step and the deadline applies to them too.
            return _guarded_iter(result)
        return _check_size(result)

    return wrapper


# `batch` and `slice` pad their chunks with `fill_with` up to the requested count, so a huge
# count allocates gigabytes inside a single step; no message needs more than this.
MAX_CHUNK_COUNT = 1000


def _make_chunked(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def chunked(value: Any, count: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            number = int(count)
        except (TypeError, ValueError):
            raise _LimitExceeded(f"{name} needs a whole number") from None
        if not 0 < number <= MAX_CHUNK_COUNT:
            raise _LimitExceeded(f"{name} accepts counts from 1 to {MAX_CHUNK_COUNT}")
        return original(value, number, *args, **kwargs)

    return chunked


def _join_estimate(value: Any, d: str = "", attribute: Any = None) -> None:
    items = list(value) if isinstance(value, list | tuple) else None
    if items is None:
        return
    size = sum(len(str(i)) for i in items) + len(str(d)) * max(len(items) - 1, 0)
    limit = _current().limits.value_chars
    if size > limit:
        raise _LimitExceeded(f"joining would produce more than {limit} characters")


def _make_join(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        _join_estimate(value, d, attribute)
        return original(eval_ctx, value, d, attribute)

    return join


def _make_replace(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
        text, old_s, new_s = str(s), str(old), str(new)
        hits = len(text) + 1 if old_s == "" else text.count(old_s)
        if count is not None:
            hits = min(hits, max(int(count), 0))
        limit = _current().limits.value_chars
        if len(text) + hits * (len(new_s) - len(old_s)) > limit:
            raise _LimitExceeded(f"replace() would produce more than {limit} characters")
        return original(eval_ctx, s, old, new, count)

    return replace


class _GuardTransformer(NodeTransformer):
    """Routes every loop and every `~` through the environment so both are bounded."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("guarded_iter", lineno=node.lineno),
            [node.iter],
            [],
            None,
            None,
            lineno=node.lineno,
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(
            nodes.EnvironmentAttribute("guarded_concat", lineno=node.lineno),
            list(node.nodes),
            [],
            None,
            None,
            lineno=node.lineno,
        )


class MessageSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, narrowed to plain values, whitelisted filters and bounds."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self, *, autoescape: bool):
        super().__init__(autoescape=autoescape, undefined=StrictUndefined, auto_reload=False)
        self.globals.clear()
        filters: dict[str, Callable[..., Any]] = {}
        for name in ALLOWED_FILTERS:
            original = DEFAULT_FILTERS[name]
            if name == "join":
                original = _make_join(original)
            elif name == "replace":
                original = _make_replace(original)
            if name in ("batch", "slice"):
                original = _make_chunked(original, name)
            filters[name] = _bounded(original)
        filters["money"] = _bounded(_money_filter)
        filters["date"] = _bounded(_date_filter)
        filters["datetime"] = _bounded(_datetime_filter)
        self.filters = filters
        self.tests = {name: DEFAULT_TESTS[name] for name in ALLOWED_TESTS}
        self.guarded_iter = _guarded_iter
        self.guarded_concat = self._concat

    def _concat(self, *parts: Any) -> str:
        _tick()
        result = markup_join(parts) if self.autoescape else str_join(parts)
        return _check_size(result)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        tree = _GuardTransformer().visit(tree)
        tree.set_environment(self)
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or attr in FORBIDDEN_ATTRS:
            return False
        if isinstance(obj, LoopContext):
            return attr in LOOP_ATTRS
        if isinstance(obj, str):
            return attr in STR_METHODS
        return False

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Context values are plain mappings: a key always wins over a dict method, so
        # `order.items` is the data, never dict.items.
        if isinstance(obj, Mapping):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            return self.undefined(obj=obj, name=attribute)
        if self.is_safe_attribute(obj, attribute, value):
            return value
        return self.unsafe_undefined(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str):
            return self.getattr(obj, argument)
        if isinstance(obj, list | tuple | str) and isinstance(argument, int | slice):
            try:
                return obj[argument]
            except IndexError:
                pass
        return self.undefined(obj=obj, name=argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        limit = _current().limits.value_chars
        if operator == "*":
            seq, times = (left, right) if isinstance(left, str | list | tuple) else (right, left)
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(times, int)
                and len(seq) * max(times, 0) > limit
            ):
                raise _LimitExceeded(f"repetition would produce more than {limit} characters")
        elif operator == "**":
            if isinstance(right, int | float) and (abs(right) > 100 or abs(left) > 10**100):
                raise _LimitExceeded("the number is too large (exponent above 100)")
        elif operator == "%" and isinstance(left, str):
            raise _LimitExceeded("the % operator is not available on text; use ~ to join text")
        return _check_size(self.binop_table[operator](left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return _check_size(super().call(context, obj, *args, **kwargs))


_ENVIRONMENTS: dict[bool, MessageSandbox] = {}


def sandbox(kind: str) -> MessageSandbox:
    """The shared sandbox for a template part: autoescaping for HTML, plain for the rest."""
    autoescape = kind == "html"
    env = _ENVIRONMENTS.get(autoescape)
    if env is None:
        env = _ENVIRONMENTS[autoescape] = MessageSandbox(autoescape=autoescape)
    return env


# Compiled templates by (kind, SHA-256 of the source): a template is parsed and compiled once
# per process, not per message. Only render_template() fills it, after the source passed the
# checker, so nothing unchecked is ever compiled here, let alone rendered.
_COMPILED: BoundedCache[Template] = BoundedCache(512)


def _source_digest(source: str) -> bytes:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()


def _compiled(kind: str, source: str, digest: bytes | None = None) -> Template:
    key = (kind, digest if digest is not None else _source_digest(source))
    template = _COMPILED.get(key)
    if template is None:
        template = sandbox(kind).from_string(source)
        _COMPILED.put(key, template)
    return template


# --- the checker ---------------------------------------------------------------------------


def _placeholder_fields(known: Mapping[str, Field] | None) -> Mapping[str, Field]:
    if known is not None:
        return known
    from webapp.message_templates.context import PLACEHOLDERS

    return PLACEHOLDERS


# A resolved expression: a Field of the schema, "local" (template-defined), or None (unknown).
_Resolved = Field | Literal["local", "loop", "text"] | None


class _Checker:
    def __init__(self, kind: str, known: Mapping[str, Field], amazon: bool):
        self.kind = kind
        self.known = known
        self.amazon = amazon
        self.problems: list[Problem] = []
        self.locals: dict[str, _Resolved] = {}
        self.macros: set[str] = set()

    def add(
        self,
        node: nodes.Node | None,
        message: str,
        severity: Severity = "error",
        line: int | None = None,
    ) -> None:
        line = line or getattr(node, "lineno", None)
        problem = Problem(line, message, severity, self.kind)
        if problem not in self.problems:
            self.problems.append(problem)

    # Names that the template itself defines (loop targets, set, macro arguments).
    def collect_locals(self, tree: nodes.Template) -> None:
        for macro in tree.find_all(nodes.Macro):
            self.macros.add(macro.name)
            for arg in macro.args:
                self.locals[arg.name] = "local"
        for call_block in tree.find_all(nodes.CallBlock):
            for arg in call_block.args:
                self.locals[arg.name] = "local"
            self.locals.setdefault("caller", "local")
        for macro_node in tree.find_all(nodes.Macro):
            if any(n.name == "caller" for n in macro_node.find_all(nodes.Name)):
                self.locals.setdefault("caller", "local")
        for assign in tree.find_all((nodes.Assign, nodes.With)):
            targets: list[nodes.Node] = (
                [assign.target]
                if isinstance(assign, nodes.Assign)
                else list(getattr(assign, "targets", []))
            )
            for target in targets:
                for name in target.find_all(nodes.Name):
                    self.locals.setdefault(name.name, "local")
                if isinstance(target, nodes.Name) and target.ctx == "store":
                    self.locals[target.name] = "local"
        for loop in tree.find_all(nodes.For):
            element: _Resolved = "local"
            resolved = self.resolve(loop.iter, report=False)
            if isinstance(resolved, Field) and resolved.many:
                element = (
                    Field(resolved.description, fields=resolved.fields)
                    if (resolved.fields)
                    else "text"
                )
            if isinstance(loop.target, nodes.Name):
                current = self.locals.get(loop.target.name)
                self.locals[loop.target.name] = element if current in (None, element) else "local"
            else:
                for name in loop.target.find_all(nodes.Name):
                    self.locals[name.name] = "local"
            self.locals["loop"] = "loop"

    def resolve(self, node: nodes.Node, report: bool = True) -> _Resolved:
        """What an expression refers to; reports unknown placeholders and forbidden access."""
        if isinstance(node, nodes.Name):
            if node.name in self.locals:
                return self.locals[node.name]
            if node.name in self.macros:
                return "local"
            if node.name in self.known:
                return self.known[node.name]
            if report:
                self.unknown_name(node)
            return None
        if isinstance(node, nodes.Getattr):
            return self.resolve_attr(node, node.node, node.attr, report)
        if isinstance(node, nodes.Getitem):
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                return self.resolve_attr(node, node.node, arg.value, report)
            base = self.resolve(node.node, report)
            if isinstance(base, Field) and base.many:
                if base.fields:
                    return Field(base.description, fields=base.fields)
                return "text"
            return "local" if base is not None else None
        return "local"

    def resolve_attr(
        self, node: nodes.Node, base_node: nodes.Node, attr: str, report: bool
    ) -> _Resolved:
        if attr.startswith("_") or attr in FORBIDDEN_ATTRS:
            if report:
                self.add(node, f"access to '{attr}' is not allowed")
            return None
        base = self.resolve(base_node, report)
        if base is None:
            return None
        if base == "loop":
            if attr not in LOOP_ATTRS and report:
                self.add(node, f"'loop.{attr}' does not exist")
            return "local"
        if base == "local":
            return "local"
        if base == "text" or (isinstance(base, Field) and base.fields is None):
            if attr in STR_METHODS:
                return "local"
            if report:
                self.add(node, f"unknown placeholder '{_dotted(node)}'")
            return None
        assert isinstance(base, Field) and base.fields is not None
        if base.many:
            if report:
                self.add(node, f"'{_dotted(base_node)}' is a list; loop over it to use '{attr}'")
            return None
        if attr in base.fields:
            return base.fields[attr]
        if report:
            hint = difflib.get_close_matches(attr, list(base.fields), n=1)
            suggestion = f" (did you mean '{_dotted(base_node)}.{hint[0]}'?)" if hint else ""
            self.add(node, f"unknown placeholder '{_dotted(node)}'{suggestion}")
        return None

    def unknown_name(self, node: nodes.Name) -> None:
        if node.name in UNAVAILABLE_NAMES:
            self.add(node, UNAVAILABLE_NAMES[node.name])
            return
        if node.name.startswith("_"):
            self.add(node, f"access to '{node.name}' is not allowed")
            return
        hint = difflib.get_close_matches(node.name, list(self.known), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        self.add(node, f"unknown placeholder '{node.name}'{suggestion}")

    def walk(self, tree: nodes.Template) -> None:
        forbidden: list[tuple[type[nodes.Node] | tuple[type[nodes.Node], ...], str]] = [
            (nodes.Extends, "{% extends %} is not allowed in message templates"),
            (nodes.Include, "{% include %} is not allowed in message templates"),
            ((nodes.Import, nodes.FromImport), "{% import %} is not allowed in message templates"),
            (
                nodes.AssignBlock,
                "{% set %}...{% endset %} blocks are not allowed; use {% set x = ... %}",
            ),  # noqa: E501
            (
                (nodes.EvalContextModifier, nodes.ScopedEvalContextModifier),
                "{% autoescape %} is not allowed; customer data is always escaped in HTML",
            ),
        ]
        for node_type, message in forbidden:
            for node in tree.find_all(node_type):
                self.add(node, message)
        for loop in tree.find_all(nodes.For):
            if loop.recursive:
                self.add(loop, "recursive loops are not allowed")
        for filt in tree.find_all(nodes.Filter):
            if filt.name not in ALLOWED_FILTERS and filt.name not in OWN_FILTERS:
                self.add(filt, f"the filter '{filt.name}' is not allowed")
            for kwarg in filt.kwargs:
                value = kwarg.value
                if (
                    kwarg.key == "attribute"
                    and isinstance(value, nodes.Const)
                    and isinstance(value.value, str)
                    and any(
                        part.startswith("_") or part in FORBIDDEN_ATTRS
                        for part in value.value.split(".")
                    )
                ):
                    self.add(filt, f"access to '{value.value}' is not allowed")
        for test in tree.find_all(nodes.Test):
            if test.name not in ALLOWED_TESTS:
                self.add(test, f"the test '{test.name}' is not allowed")
        for name in tree.find_all(nodes.Name):
            if name.ctx == "load":
                self.resolve(name)
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            self.resolve(node)
        for call in tree.find_all(nodes.Call):
            self.check_call(call)
        if self.amazon:
            self.check_amazon(tree)

    def check_call(self, call: nodes.Call) -> None:
        target = call.node
        if isinstance(target, nodes.Name):
            if target.name in self.macros or target.name == "caller":
                return
            if target.name not in self.locals and target.name not in self.known:
                return  # already reported as an unknown name
            self.add(call, f"'{target.name}' cannot be called")
            return
        if isinstance(target, nodes.Getattr):
            base = self.resolve(target.node, report=False)
            if base == "loop" and target.attr in ("cycle", "changed"):
                return
            if target.attr in STR_METHODS and base != "loop":
                return
            if target.attr.startswith("_") or target.attr in FORBIDDEN_ATTRS:
                return  # already reported
            self.add(call, f"calling '{_dotted(target)}' is not allowed")
            return
        self.add(call, "only macros and simple text methods can be called")

    def check_amazon(self, tree: nodes.Template) -> None:
        for node in tree.find_all((nodes.Name, nodes.Getattr)):
            dotted = _dotted(node)
            if dotted in AMAZON_LINK_PLACEHOLDERS:
                self.add(
                    node,
                    f"Amazon does not allow links in buyer messages: '{dotted}' "
                    "must not be used in an Amazon variant (status_url is always empty there)",
                    "warning",
                )
        for data in tree.find_all((nodes.TemplateData, nodes.Const)):
            value = (
                data.data if isinstance(data, nodes.TemplateData) else getattr(data, "value", None)
            )
            match = _URL_RE.search(value) if isinstance(value, str) else None
            if match:
                self.add(
                    data,
                    "Amazon does not allow external links in buyer messages; remove the link",
                    "warning",
                    line=data.lineno + str(value)[: match.start()].count("\n"),
                )


def _dotted(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_dotted(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        arg = node.arg
        if isinstance(arg, nodes.Const):
            return f"{_dotted(node.node)}[{arg.value!r}]"
        return f"{_dotted(node.node)}[...]"
    return "(expression)"


def check_template(
    source: str,
    kind: str,
    known_placeholders: Mapping[str, Field] | None = None,
    *,
    amazon: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Problem]:
    """Check one template part; return its problems (errors and warnings) with lines.

    `kind` is "subject", "html", "text" or "sms". Nothing is rendered.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown template kind {kind!r}")
    return list(_checked(source, kind, known_placeholders, amazon, limits))


def _checked(
    source: str,
    kind: str,
    known_placeholders: Mapping[str, Field] | None,
    amazon: bool,
    limits: Limits,
    digest: bytes | None = None,
) -> tuple[Problem, ...]:
    if known_placeholders is not None:
        return tuple(_check_template(source, kind, known_placeholders, amazon, limits))
    # The result depends only on these inputs, so a source that was checked once is not parsed
    # and walked again on every render; any new or changed source is checked afresh.
    key = (digest if digest is not None else _source_digest(source), kind, amazon, limits)
    cached = _CHECKED.get(key)
    if cached is None:
        cached = tuple(_check_template(source, kind, None, amazon, limits))
        _CHECKED.put(key, cached)
    return cached


# Check results by (SHA-256 of the source, kind, amazon, limits); per process, bounded (LRU).
_CHECKED: BoundedCache[tuple[Problem, ...]] = BoundedCache(1024)


def _check_template(
    source: str,
    kind: str,
    known_placeholders: Mapping[str, Field] | None,
    amazon: bool,
    limits: Limits,
) -> list[Problem]:
    if len(source) > limits.source_chars:
        return [
            Problem(
                None, f"the template is longer than {limits.source_chars // 1024} KB", "error", kind
            )  # noqa: E501
        ]
    env = sandbox(kind)
    try:
        # The parser directly: the AST as written, before _parse adds the runtime guards.
        tree = Parser(env, source).parse()
    except TemplateSyntaxError as exc:
        return [Problem(exc.lineno, _plain_syntax_message(exc.message), "error", kind)]
    checker = _Checker(kind, _placeholder_fields(known_placeholders), amazon)
    checker.collect_locals(tree)
    checker.walk(tree)
    return sorted(checker.problems, key=lambda p: (p.line or 0, p.severity != "error"))


def _plain_syntax_message(message: str | None) -> str:
    text = (message or "syntax error").strip()
    return f"syntax error: {text}"


# --- rendering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateSources:
    """The editable parts of a variant: subject, HTML body and text body (or the SMS text)."""

    subject: str = ""
    body_html: str = ""
    body_text: str = ""


@dataclass(frozen=True)
class Rendered:
    """A rendered message: subject (e-mail only), the HTML document (or None) and the text."""

    subject: str
    html: str | None
    text: str
    warnings: list[Problem] = field(default_factory=list)


def parts_of(sources: TemplateSources, channel: str) -> list[tuple[str, str]]:
    """The (kind, source) pairs that make up a message on a channel."""
    if channel == "sms":
        return [("sms", sources.body_text)]
    parts = [("subject", sources.subject)]
    if sources.body_html.strip():
        parts.append(("html", sources.body_html))
    if sources.body_text.strip() or not sources.body_html.strip():
        parts.append(("text", sources.body_text))
    return parts


def check_sources(
    sources: TemplateSources,
    channel: str,
    *,
    amazon: bool = False,
    known_placeholders: Mapping[str, Field] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Problem]:
    """Check every part of a variant; problems carry their part ("subject", "html", ...)."""
    problems: list[Problem] = []
    if channel == "email" and not sources.subject.strip():
        problems.append(Problem(None, "the subject must not be empty", "error", "subject"))
    if channel == "sms" and not sources.body_text.strip():
        problems.append(Problem(None, "the SMS text must not be empty", "error", "sms"))
    if channel == "email" and not (sources.body_html.strip() or sources.body_text.strip()):
        problems.append(Problem(None, "the message body must not be empty", "error", "text"))
    for kind, source in parts_of(sources, channel):
        problems.extend(
            check_template(source, kind, known_placeholders, amazon=amazon, limits=limits)
        )
    return problems


def _line_of(exc: BaseException) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _plain_runtime_message(exc: BaseException) -> str:
    from jinja2.exceptions import SecurityError, UndefinedError

    if isinstance(exc, _LimitExceeded):
        return str(exc)
    if isinstance(exc, SecurityError):
        return f"not allowed: {exc}"
    if isinstance(exc, UndefinedError):
        return f"unknown placeholder: {exc}"
    if isinstance(exc, RecursionError):
        return "the template calls itself too deeply"
    if isinstance(exc, MemoryError):
        return "the template needs too much memory"
    return f"the template failed: {type(exc).__name__}: {exc}"[:300]


def render_template(
    source: str,
    kind: str,
    context: Mapping[str, Any],
    *,
    language: str = "en",
    limits: Limits = DEFAULT_LIMITS,
    known_placeholders: Mapping[str, Field] | None = None,
    amazon: bool = False,
) -> str:
    """Check and render one part in the sandbox; raise TemplateProblem on any error."""
    if kind not in KINDS:
        raise ValueError(f"unknown template kind {kind!r}")
    digest = _source_digest(source)
    # Every render goes through the checker (a cache hit for a source checked before), so
    # a changed source is checked again before it is compiled and rendered.
    for problem in _checked(source, kind, known_placeholders, amazon, limits, digest):
        if problem.severity == "error":
            raise TemplateProblem.from_problem(problem)
    template = _compiled(kind, source, digest)
    state = _RenderState(limits, LOCALES.get(language, "en_GB"), time.monotonic() + limits.seconds)
    token = _state.set(state)
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > limits.output_chars:
                raise TemplateProblem(
                    f"the output is longer than {limits.output_chars // 1024} KB", None, kind
                )
            if time.monotonic() > state.deadline:
                raise TemplateProblem(
                    f"rendering took longer than {limits.seconds:g} s", None, kind
                )
            out.append(chunk)
    except TemplateProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - every template failure becomes one plain line
        raise TemplateProblem(_plain_runtime_message(exc), _line_of(exc), kind) from None
    finally:
        _state.reset(token)
    return "".join(out)


def render_sources(
    sources: TemplateSources | TemplateVariant,
    context: Mapping[str, Any],
    *,
    channel: str = "email",
    language: str = "en",
    amazon: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    known_placeholders: Mapping[str, Field] | None = None,
    frame: bool = True,
) -> Rendered:
    """Check and render a variant (or its sources) against a plain context.

    The text part is derived from the HTML when the text body is empty. E-mail HTML is put
    into the e-mail frame (templates/emails/frame.html) unless `frame` is False or the body
    is a whole document. Raises TemplateProblem with line and part on the first error.
    """
    if not isinstance(sources, TemplateSources):
        sources = TemplateSources(
            sources.subject or "", sources.body_html or "", sources.body_text or ""
        )
    problems = check_sources(
        sources, channel, amazon=amazon, known_placeholders=known_placeholders, limits=limits
    )
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise TemplateProblem.from_problem(errors[0])
    warnings = [p for p in problems if p.severity == "warning"]

    def run(kind: str, source: str) -> str:
        return render_template(
            source, kind, context, language=language, limits=limits,
            known_placeholders=known_placeholders, amazon=amazon,
        )  # fmt: skip

    if channel == "sms":
        return Rendered("", None, _tidy_text(run("sms", sources.body_text)), warnings)
    subject = " ".join(run("subject", sources.subject).split())[:250]
    html: str | None = None
    body_html = ""
    if sources.body_html.strip():
        body_html = run("html", sources.body_html)
        html = (
            wrap_email_html(body_html, subject=subject, language=language) if frame else body_html
        )
    if sources.body_text.strip():
        text = _tidy_text(run("text", sources.body_text))
    else:
        text = html_to_text(body_html)
    return Rendered(subject, html, text, warnings)


# The production name for the function the delivery engine and the CLI call.
render_variant = render_sources


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


# --- the e-mail frame ------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _frame_environment() -> Environment:
    # Our own trusted file, so a normal (not sandboxed) environment with autoescaping. It ships
    # with the code: loaded once per process, not checked for changes before every message.
    return Environment(
        loader=FileSystemLoader(str(ROOT / "templates" / "emails")),
        autoescape=True,
        undefined=StrictUndefined,
        auto_reload=False,
    )


def wrap_email_html(body: str, *, subject: str, language: str) -> str:
    """Put a rendered HTML body into the e-mail frame (a whole document stays as it is)."""
    if re.match(r"(?is)\s*(<!doctype|<html)", body):
        return body
    values = {"body": body, "subject": escape(subject), "language": escape(language)}
    # The pieces alternate: fixed text, a slot's name, fixed text, ...
    return "".join(values[piece] if i % 2 else piece for i, piece in enumerate(_frame_pieces()))


_FRAME_SLOT = re.compile("\x00(body|subject|language)\x00")


@functools.lru_cache(maxsize=1)
def _frame_pieces() -> list[str]:
    """The frame rendered once with a marker in each slot, split into its fixed text and the
    slot names: filling the slots (escaped as autoescaping would) gives what rendering the
    frame gives, at a fraction of a template render per message."""
    template = _frame_environment().get_template("frame.html")
    # Markers of our own, inserted as they are.
    slots = {name: Markup(f"\x00{name}\x00") for name in ("body", "subject", "language")}  # noqa: S704
    marked = template.render(**slots)
    return _FRAME_SLOT.split(marked)


# --- HTML to text ----------------------------------------------------------------------------

_WS_RUN = re.compile(r"\s+")
_BLANKS = re.compile(r"[ \t]+")


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote",
         "section", "article", "header", "footer", "address", "pre", "thead", "tbody"}
    )  # fmt: skip
    _SKIP = frozenset({"script", "style", "head", "title", "template"})
    # Blocks set off by a blank line; the other blocks start and end a line.
    _SPACED = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"})
    # What a tag does, looked up once per tag (most tags of a message are table cells and
    # paragraphs): tags not listed add nothing.
    _STARTS = {
        **{tag: "line" for tag in _BLOCKS},
        **{tag: "blank" for tag in _SPACED},
        **{tag: "skip" for tag in _SKIP},
        "br": "br", "hr": "hr", "li": "li", "tr": "tr", "td": "cell", "th": "cell", "a": "a",
        "img": "img",
    }  # fmt: skip
    _ENDS = {
        **{tag: "line" for tag in _BLOCKS | {"tr"}},
        **{tag: "blank" for tag in _SPACED},
        **{tag: "skip" for tag in _SKIP},
        "a": "a",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.links: list[tuple[str | None, int]] = []
        self.cell = 0
        self.pre = 0

    def _newline(self, blank: bool = False) -> None:
        # Ensure one line break (two for a blank line) at the end, never more.
        want = 2 if blank else 1
        if self.parts and self.parts[-1][-1:] not in ("\n", " ", ""):
            self.parts.append("\n" * want)  # the text ends in a visible character
            return
        tail = "".join(self.parts[-3:])
        have = len(tail) - len(tail.rstrip("\n")) if tail.strip(" ") else want
        if have < want:
            self.parts.append("\n" * (want - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = self._STARTS.get(tag)
        if kind is None:
            return
        if kind == "cell":
            if self.cell:
                self.parts.append(" | ")
            self.cell += 1
        elif kind == "blank":
            self._newline(blank=True)
        elif kind == "line":
            self._newline()
            if tag == "pre":
                self.pre += 1
        elif kind == "tr":
            self._newline()
            self.cell = 0
        elif kind == "br":
            self.parts.append("\n")
        elif kind == "a":
            href = dict(attrs).get("href")
            self.links.append((href, len(self.parts)))
        elif kind == "skip":
            self.skip += 1
        elif kind == "li":
            self.parts.append("\n- ")
        elif kind == "hr":
            self.parts.append("\n----------------------------------------\n")
        elif kind == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(alt)

    def handle_endtag(self, tag: str) -> None:
        kind = self._ENDS.get(tag)
        if kind is None:
            return
        if kind == "blank":
            self._newline(blank=True)
        elif kind == "line":
            self._newline()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
        elif kind == "a":
            if self.links:
                href, start = self.links.pop()
                label = " ".join("".join(self.parts[start:]).split())
                if href and not href.startswith("#"):
                    target = href[7:] if href.startswith("mailto:") else href
                    if target and target != label:
                        self.parts.append(f" ({target})" if label else target)
        elif kind == "skip":
            self.skip = max(0, self.skip - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            self.parts.append(data)
            return
        # Printable text without two spaces in a row has no blank run to collapse (a blank
        # other than the space is not printable), and most text of a message is like that.
        collapsed = data if data.isprintable() and "  " not in data else _WS_RUN.sub(" ", data)
        if collapsed.strip() or (self.parts and not self.parts[-1].endswith((" ", "\n"))):
            self.parts.append(collapsed)


# html_to_text() runs for every message whose text is derived from its HTML. HTMLParser is
# written for any HTML a browser would accept and is slow for it; the HTML of our messages is
# well-formed, so a single regular expression tokenises it and feeds the same handlers, in the
# same order and with the same arguments, as HTMLParser would. Anything outside this strict
# subset (a stray "<", unquoted or spaced attribute values, declarations, processing
# instructions, odd comments, elements whose content is raw text) makes the whole document go
# through HTMLParser instead, so the result is always the one HTMLParser gives.
_FAST_WS = "[ \t\n\r\f]"
_FAST_TOKEN = re.compile(
    # a start tag: name, attributes with quoted values (or none), optional "/"
    rf"<(?:([a-zA-Z][a-zA-Z0-9]*)"
    rf"((?:{_FAST_WS}+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:=\"[^\"]*\"|='[^']*')?)*)"
    rf"{_FAST_WS}*(/?)>"
    # an end tag
    rf"|/([a-zA-Z][a-zA-Z0-9]*){_FAST_WS}*>"
    # a comment without "--" inside, not starting with ">" or "-"
    r"|!--(?![->])(?:[^-]|-(?!-))*-->)"
)
_FAST_ATTR = re.compile(rf"{_FAST_WS}+([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:=\"([^\"]*)\"|='([^']*)')?")
# Elements whose content HTMLParser treats as raw text (now or in newer Python versions).
_RAW_TEXT_TAGS = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
     "plaintext"}
)  # fmt: skip
# The only attributes _TextExtractor reads: href of links, alt of images.
_TAGS_WITH_ATTRS = frozenset({"a", "img"})


def _fast_attrs(text: str) -> list[tuple[str, str | None]]:
    # As HTMLParser: lower-case names, None without a value, entities in values resolved.
    attrs: list[tuple[str, str | None]] = []
    for match in _FAST_ATTR.finditer(text):
        name, double, single = match.group(1, 2, 3)
        value = double if double is not None else single
        if value:
            value = html_unescape(value)
        attrs.append((name.lower(), value))
    return attrs


def _feed_fast(parser: _TextExtractor, html: str) -> bool:
    """Feed well-formed HTML to the extractor's handlers as HTMLParser(convert_charrefs=True)
    would; False (and the parser must be discarded) when the input leaves the strict subset."""
    pos = 0
    find = html.find
    match_token = _FAST_TOKEN.match
    while True:
        start = find("<", pos)
        if start < 0:
            break
        if start > pos:
            parser.handle_data(html_unescape(html[pos:start]))
        token = match_token(html, start)
        if token is None:
            return False
        tag, attrs, self_closing, end_tag = token.group(1, 2, 3, 4)
        if tag is not None:
            tag = tag.lower()
            if tag in _RAW_TEXT_TAGS:
                return False
            parser.handle_starttag(
                tag, _fast_attrs(attrs) if attrs and tag in _TAGS_WITH_ATTRS else []
            )
            if self_closing:  # HTMLParser's handle_startendtag: start, then end
                parser.handle_endtag(tag)
        elif end_tag is not None:
            parser.handle_endtag(end_tag.lower())
        # else a comment: HTMLParser reports it to handle_comment, which ignores it
        pos = token.end()
    if pos < len(html):
        parser.handle_data(html_unescape(html[pos:]))
    return True


def _extracted_parts(html: str, *, fast: bool = True) -> list[str]:
    parser = _TextExtractor()
    if fast and _feed_fast(parser, html):
        return parser.parts
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.parts


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML body: links as `text (url)`, rows as lines."""
    # Runs of blanks never span lines: collapsed once for the whole text.
    raw = _BLANKS.sub(" ", "".join(_extracted_parts(html)))
    lines: list[str] = []
    for line in raw.split("\n"):
        line = line.strip()
        if "|" in line and (" | " in line or line.startswith("| ") or line.endswith(" |")):
            line = " | ".join(cell.strip() for cell in line.split("|") if cell.strip())
        if line or not lines or lines[-1]:  # one blank line at most (as _tidy_text)
            lines.append(line)
    return "\n".join(lines).strip() + "\n"
