"""The named Logs Insights queries of the runbooks: catalog, parameter checks, result rendering and lint.

Typical use: `QueryCatalog.load(settings.queries_dir).get("dlq-breakdown").render({})`, run the text on a
`LogSearch`, then `result_message(...)` for Slack or `headline(...)` for the timeline.
"""

from bot.queries.catalog import Param, QueryCatalog, QueryDef
from bot.queries.lint import lint_queries
from bot.queries.render import headline, result_message

__all__ = ["Param", "QueryCatalog", "QueryDef", "headline", "lint_queries", "result_message"]
