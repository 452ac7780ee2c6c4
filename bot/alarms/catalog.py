"""The alarms incident-bot knows, read from the YAML front matter of `runbooks/<Name>.md`.

A runbook file is the single place an alarm is described: its front matter says how the bot responds
(severity, queries to run, who to invite, which dashboard), its body is the runbook. To add an alarm, add
`runbooks/<Name>.md` with front matter like the others and name the CloudWatch alarm `<prefix><Name>`;
`incident-bot lint` checks the file. Front matter fields:

    alarm: DLQSpike            # the key; must equal the file name
    title: DLQ spike           # one line
    severity: CRITICAL         # CRITICAL | HIGH | MEDIUM | LOW
    queries: [dlq-spike-cause] # names in queries/, run when the incident opens (none that need parameters)
    invite: [flink-oncall]     # responder groups, Slack ids or emails, on top of the severity's responders
    dashboard: Errors          # Health | Performance | Errors | Capacity
    caused_by: [KafkaBrokerDown] # alarms (keys) this one is a symptom of: correlated into one incident

Correlation follows the guide's causal chains (broker down → consumer lag → latency → window completeness;
checkpoint failure → lag; Firehose delivery failed → completeness): two alarms are related when one is a cause,
directly or through others, of the other. An alarm without `caused_by` that nothing names stands alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.alarms.severity import Severity
from bot.errors import ConfigError

DASHBOARDS = ("Health", "Performance", "Errors", "Capacity")
# The guide's alarm catalog (Section 4): every one of these needs a runbook.
GUIDE_ALARMS: Mapping[str, Severity] = {
    "DLQSpike": Severity.CRITICAL,
    "CheckpointFailure": Severity.CRITICAL,
    "KafkaBrokerDown": Severity.CRITICAL,
    "FirehoseDeliveryFailed": Severity.CRITICAL,
    "ConsumerLagHigh": Severity.HIGH,
    "LatencyP99High": Severity.HIGH,
    "WindowCompletenessLow": Severity.HIGH,
    # Beyond Section 4: the synthetic-order alarm (Q4, gap 2) and the correctness checks (Section 1).
    "PipelineStalled": Severity.CRITICAL,
    "InvariantViolated": Severity.CRITICAL,
    "ReconciliationMismatch": Severity.HIGH,
}
# Templates in runbooks/ that are not alarm runbooks: the fallback, the post-incident report, `_partials`.
NON_ALARM_FILES = frozenset({"generic.md", "post-incident.md"})
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One known alarm and how the bot responds to it."""

    key: str
    alarm_name: str
    title: str
    severity: Severity
    queries: tuple[str, ...]
    invite: tuple[str, ...]
    dashboard: str
    runbook: Path
    caused_by: tuple[str, ...] = ()

    def runbook_url(self, base_url: str) -> str:
        """The runbook's public URL under `base_url` (e.g. a Git web view), or "" when there is no base."""
        if not base_url:
            return ""
        return f"{base_url.rstrip('/')}/{self.runbook.name}"


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str, int]:
    """(front matter or None, body, number of lines the front matter took); raises ConfigError on bad YAML."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, text, 0
    try:
        meta = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        raise ConfigError(f"front matter is not valid YAML: {' '.join(str(exc).split())}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ConfigError("front matter must be a YAML mapping")
    return meta, text[match.end() :], match.group(0).count("\n")


def entry_from_file(path: Path, *, prefix: str) -> CatalogEntry:
    """Read one runbook's front matter into a `CatalogEntry`; raises ConfigError naming every bad field."""
    meta, _, _ = split_front_matter(path.read_text(encoding="utf-8"))
    if meta is None:
        raise ConfigError("no front matter (a `---` block with alarm, title, severity, ...)")
    problems: list[str] = []
    key = meta.get("alarm")
    if not isinstance(key, str) or not key:
        problems.append("`alarm` must be the alarm's name without prefix")
        key = path.stem
    elif key != path.stem:
        problems.append(f"`alarm: {key}` does not match the file name {path.name}")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("`title` is missing")
        title = key
    try:
        severity = Severity(str(meta.get("severity", "")).upper())
    except ValueError:
        problems.append(f"`severity: {meta.get('severity')}` is not one of {', '.join(Severity)}")
        severity = Severity.HIGH
    queries = _names(meta, "queries", problems)
    invite = _names(meta, "invite", problems)
    dashboard = meta.get("dashboard", "Health")
    if dashboard not in DASHBOARDS:
        problems.append(f"`dashboard: {dashboard}` is not one of {', '.join(DASHBOARDS)}")
        dashboard = "Health"
    caused_by = _names(meta, "caused_by", problems)
    if key in caused_by:
        problems.append("`caused_by` names the alarm itself")
    if problems:
        raise ConfigError("; ".join(problems))
    return CatalogEntry(
        key=key,
        alarm_name=f"{prefix}{key}",
        title=title.strip(),
        severity=severity,
        queries=queries,
        invite=invite,
        dashboard=dashboard,
        runbook=path,
        caused_by=caused_by,
    )


class AlarmCatalog:
    """The known alarms, looked up by CloudWatch alarm name."""

    def __init__(self, entries: Iterable[CatalogEntry], *, prefix: str = "orders-pipeline-") -> None:
        self.prefix = prefix
        order = list(Severity)
        self.entries: tuple[CatalogEntry, ...] = tuple(
            sorted(entries, key=lambda e: (order.index(e.severity), e.key))
        )
        self._by_name = {e.alarm_name: e for e in self.entries}
        self._by_folded = {e.alarm_name.casefold(): e for e in self.entries}
        by_key = {e.key: e for e in self.entries}
        self._causes = {e.key: _ancestors(e.key, by_key) for e in self.entries}

    @classmethod
    def scan(cls, runbooks_dir: Path, *, prefix: str = "orders-pipeline-") -> tuple[AlarmCatalog, list[str]]:
        """The catalog of every valid runbook, and one problem line per runbook that is not (for lint)."""
        entries: list[CatalogEntry] = []
        problems: list[str] = []
        if not runbooks_dir.is_dir():
            return cls([], prefix=prefix), [f"{runbooks_dir}: runbooks directory does not exist"]
        seen: dict[str, Path] = {}
        for path in sorted(runbooks_dir.glob("*.md")):
            if path.name in NON_ALARM_FILES or path.name.startswith("_"):
                continue
            try:
                entry = entry_from_file(path, prefix=prefix)
            except ConfigError as exc:
                problems.append(f"{path}: {exc}")
                continue
            folded = entry.key.casefold()
            if folded in seen:
                problems.append(f"{path}: alarm {entry.key} is also described by {seen[folded]}")
                continue
            seen[folded] = path
            entries.append(entry)
        problems += _correlation_problems(entries)
        return cls(entries, prefix=prefix), problems

    @classmethod
    def load(cls, runbooks_dir: Path, prefix: str = "orders-pipeline-") -> AlarmCatalog:
        """Read every runbook's front matter; raises ConfigError listing all bad runbooks (start-up fails)."""
        catalog, problems = cls.scan(runbooks_dir, prefix=prefix)
        if problems:
            raise ConfigError("bad runbooks: " + " | ".join(problems))
        return catalog

    def lookup(self, alarm_name: str) -> CatalogEntry | None:
        """The entry for `<prefix><Name>` (any case as a fallback); None for an alarm we do not know."""
        return self._by_name.get(alarm_name) or self._by_folded.get(alarm_name.casefold())

    def causes_of(self, alarm_name: str) -> frozenset[str]:
        """Keys of every alarm that causes `alarm_name`, directly or through others (empty when unknown)."""
        entry = self.lookup(alarm_name)
        return self._causes.get(entry.key, frozenset()) if entry else frozenset()

    def is_cause_of(self, cause: str, symptom: str) -> bool:
        """True when alarm `cause` is a (transitive) cause of alarm `symptom` (both CloudWatch alarm names)."""
        entry = self.lookup(cause)
        return entry is not None and entry.key in self.causes_of(symptom)

    def related_names(self, alarm_name: str) -> frozenset[str]:
        """CloudWatch names of the alarms correlated with `alarm_name`: its causes and its symptoms."""
        entry = self.lookup(alarm_name)
        if entry is None:
            return frozenset()
        return frozenset(e.alarm_name for e in self.entries
                         if e.key in self._causes[entry.key] or entry.key in self._causes[e.key])

    def __len__(self) -> int:
        return len(self.entries)


def _ancestors(key: str, by_key: Mapping[str, CatalogEntry]) -> frozenset[str]:
    seen: set[str] = set()
    todo = list(by_key[key].caused_by)
    while todo:
        cause = todo.pop()
        if cause in seen or cause not in by_key:
            continue
        seen.add(cause)
        todo.extend(by_key[cause].caused_by)
    seen.discard(key)  # a cycle is reported by lint; it must not make an alarm its own cause
    return frozenset(seen)


def _correlation_problems(entries: list[CatalogEntry]) -> list[str]:
    """`caused_by` naming an alarm no runbook describes, or causes that go round in a circle."""
    by_key = {e.key: e for e in entries}
    problems = [
        f"{e.runbook}: `caused_by: {cause}` names no alarm runbook"
        for e in entries for cause in e.caused_by if cause not in by_key
    ]
    for entry in entries:
        todo, seen = list(entry.caused_by), set()
        while todo:
            cause = todo.pop()
            if cause == entry.key:
                problems.append(f"{entry.runbook}: `caused_by` goes round in a circle back to {entry.key}")
                break
            if cause in seen or cause not in by_key:
                continue
            seen.add(cause)
            todo.extend(by_key[cause].caused_by)
    return problems


def _names(meta: Mapping[str, Any], field: str, problems: list[str]) -> tuple[str, ...]:
    value = meta.get(field) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"`{field}` must be a list of names")
        return ()
    return tuple(v.strip() for v in value)
