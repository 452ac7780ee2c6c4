"""Render runbooks (`runbooks/*.md`, jinja2 bodies under YAML front matter) and the post-incident report.

Templates are compiled once, when the library is built, with `StrictUndefined`: a misspelt variable is an
error, never an empty string at 3 a.m. Output is standard Markdown (GitHub reads the same files); convert with
`bot.runbooks.mrkdwn.to_mrkdwn` for Slack. Templates may `{% include "_name.md" %}` shared partials.
To add a filter runbooks can use, register it in `_environment`; to add a lint check, extend `lint`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import pass_context
from jinja2.runtime import Context

from bot.alarms.catalog import GUIDE_ALARMS, NON_ALARM_FILES, AlarmCatalog, CatalogEntry, split_front_matter
from bot.alarms.context import LOGS_MARGIN, logs_insights_url, number
from bot.alarms.severity import Severity
from bot.errors import ConfigError
from bot.runbooks.samples import sample_contexts, sample_postmortems

GENERIC = "generic.md"
POSTMORTEM = "post-incident.md"
# The guide's queries (Section 3 and 6 Q3); used when queries/ holds none yet.
GUIDE_QUERIES = frozenset(
    {
        "order-trace",
        "errors-by-type",
        "latency-percentiles",
        "slow-operators",
        "dlq-spike-cause",
        "dlq-breakdown",
        "log-patterns",
    }
)
# Queries that need an argument (an order id) cannot run unattended when an incident opens.
NEEDS_ARGUMENTS = frozenset({"order-trace"})
_POSTMORTEM_DEFAULTS: dict[str, Any] = {
    "mtta_minutes": None,
    "mttr_minutes": None,
    "paged_at": None,
    "page_status": "not configured",
    "resolved_how": None,
    "timeline": [],
    "transitions": [],
    "queries": [],
    "summary": None,
    "outcome": None,
    "root_cause": None,
    "prevention": None,
    "impact": None,
    "owner": None,
    "review": None,
}
_INCIDENT_DEFAULTS = dict.fromkeys(
    ("id", "title", "severity", "status", "alarm_name", "alarm_arn", "opened_at", "acknowledged_at",
     "resolved_at", "channel", "pagerduty_url")
)
_BLANK_RUNS = re.compile(r"\n{3,}")
# Slack's `markdown` block holds at most 12,000 characters; a longer runbook would be cut mid-step.
MAX_RENDERED_CHARS = 12_000


class _RunbookLoader(jinja2.BaseLoader):
    """Reads `runbooks/<name>`, blanking the front matter so error line numbers match the file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self.root / template
        if "/" in template or "\\" in template or not path.is_file():
            raise jinja2.TemplateNotFound(template)
        text = path.read_text(encoding="utf-8")
        try:
            _, body, lines = split_front_matter(text)
        except ConfigError:
            # Bad YAML is reported by the catalog; the body still compiles so its own errors show too.
            body, lines = text, 0
        return "\n" * lines + body, str(path), lambda: True


class RunbookLibrary:
    """Every template in a runbooks directory, compiled once."""

    def __init__(
        self,
        runbooks_dir: Path,
        *,
        prefix: str = "orders-pipeline-",
        queries_dir: Path | None = None,
    ) -> None:
        self.runbooks_dir = runbooks_dir
        self.prefix = prefix
        self.queries_dir = queries_dir if queries_dir is not None else runbooks_dir.parent / "queries"
        self._env = _environment(runbooks_dir)
        self._templates: dict[str, jinja2.Template] = {}
        self._broken: dict[str, str] = {}
        for path in sorted(runbooks_dir.glob("*.md")) if runbooks_dir.is_dir() else []:
            try:
                self._templates[path.name] = self._env.get_template(path.name)
            except jinja2.TemplateSyntaxError as exc:
                self._broken[path.name] = f"{path}:{exc.lineno}: {exc.message}"

    def render(self, entry: CatalogEntry | None, context: Mapping[str, Any]) -> str:
        """The runbook for `entry` (None → the generic one) as Markdown; raises ConfigError if it fails."""
        name = entry.runbook.name if entry is not None else GENERIC
        alarm = context.get("alarm")
        alarm_name = alarm.get("name", "") if isinstance(alarm, Mapping) else ""
        runbook = {
            "known": entry is not None,
            "key": entry.key if entry else "",
            "title": entry.title if entry else f"Unknown alarm {alarm_name}".strip(),
            "severity": entry.severity.value if entry else context.get("severity", ""),
            "queries": list(entry.queries) if entry else [],
            "invite": list(entry.invite) if entry else [],
            "dashboard": entry.dashboard if entry else "Health",
            "alarm_prefix": self.prefix,
        }
        return self._render(name, {**context, "runbook": runbook})

    def render_postmortem(self, context: Mapping[str, Any]) -> str:
        """The post-incident report as Markdown; missing keys read as None or empty lists."""
        incident = {**_INCIDENT_DEFAULTS, **dict(context.get("incident") or {})}
        return self._render(POSTMORTEM, {**_POSTMORTEM_DEFAULTS, **context, "incident": incident})

    def lint(self) -> list[str]:
        """One line per problem: bad front matter, missing runbooks, templates that fail, unknown queries."""
        catalog, problems = AlarmCatalog.scan(self.runbooks_dir, prefix=self.prefix)
        problems = [*self._broken.values(), *problems]
        for key in GUIDE_ALARMS:
            if catalog.lookup(self.prefix + key) is None and not (self.runbooks_dir / f"{key}.md").exists():
                path = self.runbooks_dir / f"{key}.md"
                problems.append(f"{path}: no runbook for the guide's alarm {key}")
        for name in sorted(NON_ALARM_FILES):
            if not (self.runbooks_dir / name).is_file():
                problems.append(f"{self.runbooks_dir / name}: missing")
        known = self.known_queries()
        for entry in catalog.entries:
            for query in entry.queries:
                if query not in known:
                    names = ", ".join(sorted(known))
                    problems.append(f"{entry.runbook}: unknown query {query!r} (known: {names})")
                elif query in NEEDS_ARGUMENTS:
                    problems.append(f"{entry.runbook}: query {query!r} needs an order id, it cannot auto-run")
            problems += self._render_problems(
                entry.runbook.name,
                partial(self.render, entry),
                sample_contexts(entry.alarm_name, entry.severity, dashboard=entry.dashboard),
            )
        problems += self._render_problems(
            GENERIC,
            partial(self.render, None),
            sample_contexts(self.prefix + "SomethingNew", Severity.HIGH),
        )
        problems += self._render_problems(POSTMORTEM, self.render_postmortem, sample_postmortems())
        return problems

    def known_queries(self) -> frozenset[str]:
        """Query names in the queries directory, or the guide's names while that directory holds none."""
        if self.queries_dir.is_dir():
            names = {
                p.name.split(".", 1)[0]
                for p in self.queries_dir.iterdir()
                if p.is_file() and not p.name.startswith((".", "_", "README"))
            }
            if names:
                return frozenset(names)
        return GUIDE_QUERIES

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        if name in self._broken:
            raise ConfigError(self._broken[name])
        template = self._templates.get(name)
        if template is None:
            raise ConfigError(f"{self.runbooks_dir / name}: no such runbook")
        try:
            text = template.render(context)
        except Exception as exc:  # a runbook is user-written code: any failure is the runbook's problem
            where = _template_line(exc.__traceback__, self.runbooks_dir)
            detail = str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
            raise ConfigError(f"{where or template.filename}: {detail}") from None
        return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"

    def _render_problems(
        self, name: str, render: Callable[[dict[str, Any]], str], contexts: list[tuple[str, dict[str, Any]]]
    ) -> list[str]:
        if name in self._broken or name not in self._templates:
            return []  # already reported as a syntax error or a missing file
        failures: dict[str, list[str]] = {}
        for label, context in contexts:
            try:
                size = len(render(context))
            except ConfigError as exc:
                failures.setdefault(str(exc), []).append(label)
                continue
            if size > MAX_RENDERED_CHARS:
                message = f"{self.runbooks_dir / name}: renders longer than {MAX_RENDERED_CHARS:,} characters"
                failures.setdefault(message, []).append(label)
        return [f"{message} (sample: {', '.join(labels)})" for message, labels in failures.items()]


def _environment(root: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=_RunbookLoader(root),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - Markdown for Slack and Git, never served as HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["num"] = _num
    env.filters["insights_url"] = _insights_url
    return env


def _num(value: object, unknown: str = "unknown") -> str:
    """`{{ x | num }}`: 1,234 or 0.5; `unknown` for None."""
    if value is None:
        return unknown
    if isinstance(value, int | float):
        return number(float(value))
    return str(value)


@pass_context
def _insights_url(context: Context, query: str) -> str:
    """`{{ query_text | insights_url }}`: a Logs Insights console link running `query` near the alarm."""
    window, region, groups = context.get("window"), context.get("region"), context.get("log_groups")
    if not isinstance(window, Mapping) or not isinstance(region, str) or groups is None:
        raise jinja2.TemplateRuntimeError("insights_url needs an alarm context (window, region, log_groups)")
    start = datetime.fromisoformat(window["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(window["end"].replace("Z", "+00:00"))
    return logs_insights_url(
        region,
        start=start - LOGS_MARGIN,
        end=end + LOGS_MARGIN,
        log_groups=groups,
        query=query.strip(),
    )


def _template_line(tb: TracebackType | None, root: Path) -> str:
    """`file:line` of the innermost runbook frame in a traceback (jinja2 maps lines to the source)."""
    where = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(str(root)):
            where = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where
