"""`pattern`, `diff` and `anomaly` offline: a Drain-style template miner over pre-masked, pre-counted lines.

The scan (DuckDB) masks every token holding a digit as `<*>` (`li_mask`) and counts identical masked lines per
period, so the miner sees thousands of distinct lines rather than millions of events. The miner then merges lines
of the same length whose fixed tokens mostly agree (Drain: He et al., ICWS 2017), turning the tokens where they
differ into `<*>`, as CloudWatch shows dynamic tokens. Pure code: the engine adapter runs the SQL around it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

WILDCARD = "<*>"
SIMILARITY = 0.5  # share of fixed tokens two lines must share to be one template (Drain's st)
# Drain's tree depth: lines must agree on their first token (unless it is variable). Drain's usual two tokens
# split `Job alpha restarted` from `Job bravo restarted`; the similarity test keeps distinct templates apart.
PREFIX_TOKENS = 1
MAX_CLUSTERS_PER_LEAF = 32  # bounds the work per line when many unlike lines share a length and first word

# One mask for the scan: a token (run of characters between separators) holding a digit is variable: ids,
# numbers, timestamps, IPs, durations, error codes.
# The scan reduces each line's level field to a rank (min() is cheap where mode() would hash every value).
LEVEL_RANKS = {1: "ERROR", 2: "WARN", 3: "INFO", 4: "DEBUG"}
LEVEL_MACRO = ("CREATE OR REPLACE MACRO li_level_rank(x) AS CASE upper(x) WHEN 'ERROR' THEN 1 WHEN 'FATAL' THEN 1 "
               "WHEN 'CRITICAL' THEN 1 WHEN 'SEVERE' THEN 1 WHEN 'WARN' THEN 2 WHEN 'WARNING' THEN 2 "
               "WHEN 'INFO' THEN 3 WHEN 'NOTICE' THEN 3 WHEN 'DEBUG' THEN 4 WHEN 'TRACE' THEN 4 END;\n")
MASK_MACRO = (r"""CREATE OR REPLACE MACRO li_mask(x) AS regexp_replace(x, """
              r"""'[^\s,;()\[\]{}"''=]*\d[^\s,;()\[\]{}"''=]*', '<*>', 'g');""")

_SEVERITIES = (
    ("Error", ("ERROR", "FATAL", "CRITICAL", "SEVERE", "EXCEPTION", "FAILED", "FAILURE")),
    ("Warning", ("WARN", "WARNING")),
    ("Info", ("INFO", "NOTICE")),
    ("Debug", ("DEBUG", "TRACE")),
)


@dataclass(frozen=True, slots=True)
class MaskedLine:
    """One distinct masked line from the scan: how often it occurred in each period, one raw sample, its level."""

    text: str
    count: int
    previous: int = 0
    sample: str | None = None
    level: str | None = None

    @classmethod
    def scanned(cls, text: str, count: int, previous: int, sample: str | None, rank: int | None) -> MaskedLine:
        """A row of the scan, whose level is a rank (`LEVEL_RANKS`)."""
        return cls(text, count, previous, sample, LEVEL_RANKS.get(rank) if rank is not None else None)


@dataclass(slots=True)
class Template:
    """A mined pattern with its counts in the query period and in the comparison period."""

    tokens: list[str]
    count: int = 0
    previous: int = 0
    sample: str | None = None
    levels: Counter[str] = field(default_factory=Counter)

    @property
    def pattern(self) -> str:
        """The template text, `<*>` for dynamic tokens."""
        return " ".join(self.tokens)

    @property
    def severity(self) -> str:
        """Error, Warning, Info or Debug: from the events' level field, else from the words of the template."""
        for label, words in _SEVERITIES:
            if any(level.upper() in words for level in self.levels):
                return label
        upper = self.pattern.upper()
        for label, words in _SEVERITIES:
            if any(word in upper for word in words):
                return label
        return "Unknown"


def mine(lines: Iterable[MaskedLine]) -> list[Template]:
    """Cluster masked lines into templates, most frequent first (ties: by template text)."""
    leaves: dict[tuple[str, ...], list[Template]] = {}
    # Frequent lines first: they seed the templates, rarer variants join them (the result does not depend on
    # the order the scan returned the lines in).
    for line in sorted(lines, key=lambda item: (-(item.count + item.previous), item.text)):
        tokens = line.text.split()
        if not tokens:
            continue
        key = (str(len(tokens)), *(_branch(token) for token in tokens[:PREFIX_TOKENS]))
        clusters = leaves.setdefault(key, [])
        template, score = _best(clusters, tokens)
        if template is not None and (score >= SIMILARITY or len(clusters) >= MAX_CLUSTERS_PER_LEAF):
            _merge(template, tokens)  # a full leaf merges into its closest template rather than grow unbounded
        else:
            template = Template(list(tokens))
            clusters.append(template)
        template.count += line.count
        template.previous += line.previous
        first_in_period = line.count > 0 and template.count == line.count  # prefer a sample from the query period
        if line.sample is not None and (template.sample is None or first_in_period):
            template.sample = line.sample
        if line.level:
            template.levels[line.level] += line.count + line.previous
    templates = [template for clusters in leaves.values() for template in clusters]
    return _combine(templates)


def _branch(token: str) -> str:
    return WILDCARD if any(char.isdigit() for char in token) or token == WILDCARD else token


def _similarity(template: list[str], tokens: list[str]) -> float:
    # Share of the template's tokens that are fixed and equal (a template of only `<*>` matches anything).
    same = fixed = 0
    for a, b in zip(template, tokens, strict=True):
        if a != WILDCARD:
            fixed += 1
            same += a == b
    return same / len(template) if fixed else 1.0


def _best(clusters: list[Template], tokens: list[str]) -> tuple[Template | None, float]:
    best, score = None, -1.0
    for template in clusters:
        similarity = _similarity(template.tokens, tokens)
        if similarity > score:
            best, score = template, similarity
            if score == 1.0:
                break
    return best, score


def _merge(template: Template, tokens: list[str]) -> None:
    template.tokens = [a if a == b else WILDCARD for a, b in zip(template.tokens, tokens, strict=True)]


def _combine(templates: list[Template]) -> list[Template]:
    """Templates that became identical after merging are one pattern."""
    by_text: dict[str, Template] = {}
    for template in templates:
        known = by_text.get(template.pattern)
        if known is None:
            by_text[template.pattern] = template
            continue
        known.count += template.count
        known.previous += template.previous
        known.levels.update(template.levels)
        known.sample = known.sample or template.sample
    return sorted(by_text.values(), key=lambda t: (-t.count, -t.previous, t.pattern))


def difference(count: int, previous: int) -> str:
    """How a pattern changed against the comparison period: new, gone, increased/decreased by N, unchanged."""
    if previous == 0 and count > 0:
        return "new"
    if count == 0 and previous > 0:
        return "gone"
    if count > previous:
        return f"increased by {count - previous}"
    if count < previous:
        return f"decreased by {previous - count}"
    return "unchanged"


def anomaly(template: Template, *, min_events: int = 10, factor: float = 3.0) -> tuple[str, str] | None:
    """(description, priority) when a pattern's frequency is unusual against the comparison period, else None.

    The documented approximation of `anomaly`: a new pattern, or one whose count moved by `factor` or more,
    with at least `min_events` events in the larger period. Priority: HIGH for errors, MEDIUM otherwise.
    """
    count, previous = template.count, template.previous
    if max(count, previous) < min_events:
        return None
    priority = "HIGH" if template.severity == "Error" else "MEDIUM"
    if previous == 0:
        return f"new pattern: {count} events, none in the previous period", priority
    if count == 0:
        return f"pattern stopped: {previous} events in the previous period, none now", "LOW"
    if count >= factor * previous:
        return f"frequency up {count / previous:.1f}x ({previous} -> {count})", priority
    if previous >= factor * count:
        return f"frequency down {previous / count:.1f}x ({previous} -> {count})", "LOW"
    return None


def table_rows(templates: list[Template], *, compare: bool, anomalies: bool) -> list[tuple[object, ...]]:
    """The rows of the `li_patterns` table (see `to_duckdb.PATTERN_COLUMNS`) for mined `templates`.

    Without a comparison, patterns seen only in the comparison period do not exist; `@ratio` is the share of the
    query period's events (rounded to 4 places).
    """
    total = sum(template.count for template in templates)
    rows: list[tuple[object, ...]] = []
    for template in templates:
        if not compare and template.count == 0:
            continue
        found = anomaly(template) if anomalies else None
        rows.append((
            template.pattern, template.count, round(template.count / total, 4) if total else 0.0,
            template.severity, template.sample,
            template.count - template.previous if compare else None,
            difference(template.count, template.previous) if compare else None,
            found[0] if found else None, found[1] if found else None,
        ))
    return rows
