"""The Logs Insights query catalog: one YAML file per query in `queries/`, loaded into `QueryDef`s.

A file holds `name`, `title`, `description`, `default_window` (e.g. `1h`), optional `params` (each with a
`pattern` or `type: int`), the query text with `{{ param }}` placeholders, optional `share`/`hints` used
when showing the result, and `shape: patterns` for a query whose rows are `pattern` templates. Parameters
are validated and quoted here, so a value never changes a query's shape.
To add a query, drop a new YAML file in `queries/` and run `incident-bot lint`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.errors import BadInput, ConfigError
from bot.settings import parse_duration

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_NAME = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter and the rule a value must pass before it reaches the query."""

    name: str
    description: str = ""
    type: Literal["string", "int"] = "string"
    pattern: str | None = None
    format: str = ""  # what a valid value looks like, for error messages
    max_length: int = 128
    minimum: int | None = None
    maximum: int | None = None
    default: str | None = None
    example: str | None = None

    @property
    def required(self) -> bool:
        """True when the caller must give a value."""
        return self.default is None

    def literal(self, raw: str) -> str:
        """The value as a Logs Insights literal (quoted string or integer); raises BadInput if invalid."""
        value = raw.strip()
        shown = value if len(value) <= 60 else value[:57] + "..."
        if self.type == "int":
            if not re.fullmatch(r"-?\d{1,18}", value):
                raise BadInput(f"{self.name} must be a whole number; got {shown!r}")
            number = int(value)
            if (self.minimum is not None and number < self.minimum) or \
                    (self.maximum is not None and number > self.maximum):
                raise BadInput(f"{self.name} must be between {self.minimum} and {self.maximum}; got {number}")
            return str(number)
        wanted = self.format or (f"text matching {self.pattern}" if self.pattern else "plain text")
        if len(value) > self.max_length:
            raise BadInput(f"{self.name} is longer than {self.max_length} characters")
        if (self.pattern and not re.fullmatch(self.pattern, value)) or not value.isprintable() or not value:
            raise BadInput(f"{self.name} must be {wanted}; got {shown!r}")
        # The pattern is the real guard; quoting keeps even a loose pattern from breaking out of the string.
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Share:
    """Add a share-of-total column: `column` = row[`of`] / sum of `of`; rows are named by `label`."""

    of: str
    label: str
    column: str = "share"


@dataclass(frozen=True, slots=True)
class Hint:
    """A triage hint shown when the row whose label is `when` has a share above `over` (0..1)."""

    when: str
    over: float
    say: str


@dataclass(frozen=True, slots=True)
class QueryDef:
    """One catalog query: metadata, parameters and its Logs Insights text."""

    name: str
    title: str
    description: str
    default_window: timedelta
    text: str
    params: Mapping[str, Param] = field(default_factory=dict)
    share: Share | None = None
    hints: tuple[Hint, ...] = ()
    shape: Literal["table", "patterns"] = "table"  # patterns: rows are templates; the headline names new ones

    def render(self, params: Mapping[str, str]) -> str:
        """The query text with validated, quoted parameter values; raises BadInput for bad or unknown ones."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(self.params) or "none"
            raise BadInput(f"{self.name} has no parameter {unknown[0]!r} (parameters: {known})")
        values: dict[str, str] = {}
        for name, param in self.params.items():
            raw = params.get(name, param.default)
            if raw is None:
                example = f", e.g. {name}={param.example}" if param.example else ""
                raise BadInput(f"{self.name} needs the parameter {name}{example}")
            values[name] = param.literal(str(raw))
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], self.text)


class QueryCatalog:
    """The named queries the bot can run, loaded from a directory of YAML files."""

    def __init__(self, queries: Mapping[str, QueryDef]) -> None:
        self._queries = dict(queries)

    @classmethod
    def load(cls, directory: Path) -> QueryCatalog:
        """Load every `*.yaml` in `directory`; raises ConfigError naming the first bad file."""
        queries: dict[str, QueryDef] = {}
        for path in sorted(Path(directory).glob("*.yaml")):
            query = load_query(path)
            if query.name in queries:
                raise ConfigError(f"{path}: query name {query.name!r} is used twice")
            queries[query.name] = query
        return cls(queries)

    @property
    def names(self) -> list[str]:
        """The query names, sorted."""
        return sorted(self._queries)

    def get(self, name: str) -> QueryDef:
        """The query called `name`; raises BadInput listing the known names."""
        try:
            return self._queries[name]
        except KeyError:
            raise BadInput(f"no query named {name!r}; known queries: {', '.join(self.names)}") from None

    def __iter__(self) -> Iterator[QueryDef]:
        return iter(self._queries[name] for name in self.names)

    def __len__(self) -> int:
        return len(self._queries)


def load_query(path: Path) -> QueryDef:
    """Read one query file; raises ConfigError with the file name and the problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problem = " ".join(str(exc).split())  # one line, as lint prints it
        raise ConfigError(f"{path}: cannot read YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with name, title, description, query")
    try:
        return _query_from(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _query_from(data: Mapping[str, Any]) -> QueryDef:
    missing = [key for key in ("name", "title", "query") if not data.get(key)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    name = str(data["name"])
    if not _NAME.fullmatch(name):
        raise ValueError(f"name {name!r} must be lowercase letters, digits and dashes")
    params = {key: _param_from(key, spec or {}) for key, spec in (data.get("params") or {}).items()}
    text = str(data["query"]).strip() + "\n"
    used = set(_PLACEHOLDER.findall(text))
    if used - set(params):
        raise ValueError(f"placeholder {sorted(used - set(params))[0]!r} has no entry under params")
    if set(params) - used:
        raise ValueError(f"parameter {sorted(set(params) - used)[0]!r} is not used in the query")
    shape = str(data.get("shape", "table"))
    if shape not in ("table", "patterns"):
        raise ValueError(f"shape must be table or patterns, not {shape!r}")
    share_spec = data.get("share")
    share = Share(**share_spec) if share_spec else None
    hints = tuple(Hint(when=str(h["when"]), over=float(h["over"]), say=" ".join(str(h["say"]).split()))
                  for h in data.get("hints") or ())
    return QueryDef(
        name=name,
        title=str(data["title"]),
        description=" ".join(str(data.get("description", "")).split()),
        default_window=parse_duration(str(data.get("default_window", "1h"))),
        text=text,
        params=params,
        share=share,
        hints=hints,
        shape="patterns" if shape == "patterns" else "table",
    )


def _param_from(name: str, spec: Mapping[str, Any]) -> Param:
    kind = spec.get("type", "string")
    if kind not in ("string", "int"):
        raise ValueError(f"parameter {name}: type must be string or int")
    pattern = spec.get("pattern")
    if pattern is not None:
        re.compile(pattern)  # a broken pattern fails at load time, not on first use
    if kind == "string" and pattern is None:
        raise ValueError(f"parameter {name}: a string parameter needs a pattern")
    default = spec.get("default")
    return Param(
        name=name,
        description=str(spec.get("description", "")),
        type=kind,
        pattern=pattern,
        format=str(spec.get("format", "")),
        max_length=int(spec.get("max_length", 128)),
        minimum=spec.get("min"),
        maximum=spec.get("max"),
        default=None if default is None else str(default),
        example=None if spec.get("example") is None else str(spec["example"]),
    )
