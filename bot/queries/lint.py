"""Check the query catalog: each file loads, renders with its examples and translates for the local engine.

`incident-bot lint` calls `lint_queries`; add a check here when a new kind of mistake slips into `queries/`.
"""

from __future__ import annotations

from pathlib import Path

from bot.errors import BadInput, ConfigError, QueryError
from bot.logquery import to_duckdb
from bot.queries.catalog import load_query

# The incident flow and the runbooks run these by name.
REQUIRED = ("order-trace", "errors-by-type", "latency-percentiles", "slow-operators", "dlq-spike-cause",
            "dlq-breakdown", "log-patterns")


def lint_queries(directory: Path) -> list[str]:
    """Problems found in `directory`, one line each (empty when all is well)."""
    problems: list[str] = []
    seen: dict[str, Path] = {}
    directory = Path(directory)
    if not directory.is_dir():
        return [f"{directory}: no such query directory"]
    for path in sorted(directory.glob("*.yaml")):
        try:
            query = load_query(path)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if query.name in seen:
            problems.append(f"{path}: query name {query.name!r} also used by {seen[query.name].name}")
        seen[query.name] = path
        if path.stem != query.name:
            problems.append(f"{path}: file name should be {query.name}.yaml")
        examples = {name: param.example or param.default or "" for name, param in query.params.items()}
        try:
            to_duckdb(query.render(examples), source="logs/*.jsonl")
        except BadInput as exc:
            problems.append(f"{path}: the example parameters are refused: {exc.reason}")
        except QueryError as exc:
            problems.append(f"{path}: {exc}")
    problems += [f"{directory}: missing query {name!r} (runbooks refer to it)" for name in REQUIRED
                 if name not in seen]
    return problems
