"""Pick the Logs Insights engine from settings: the embedded DuckDB one (default) or CloudWatch."""

from __future__ import annotations

from bot.incidents.ports import LogSearch
from bot.settings import Settings


def log_search_from_settings(settings: Settings) -> LogSearch:
    """`LOGS_BACKEND=local` reads `LOCAL_LOGS`; `cloudwatch` queries `LOG_GROUPS` in `AWS_REGION`."""
    timeout = settings.query_timeout.total_seconds()
    if settings.logs_backend == "cloudwatch":
        from bot.adapters.cloudwatch_logs import CloudWatchLogSearch  # boto3 loads only when used

        return CloudWatchLogSearch(
            log_groups=settings.log_groups, timeout=timeout, region=settings.aws_region
        )
    from bot.adapters.duckdb_logs import DuckDBLogSearch

    return DuckDBLogSearch(settings.local_logs, timeout=timeout)
