"""Pick the metrics store from settings: a run's local EMF directory (default) or CloudWatch."""

from __future__ import annotations

from bot.health.ports import MetricHistory, MetricSource
from bot.settings import Settings


def metric_source_from_settings(settings: Settings) -> MetricSource:
    """`METRICS_BACKEND=local` reads `LOCAL_METRICS`; `cloudwatch` calls GetMetricData in `AWS_REGION`."""
    if settings.metrics_backend == "cloudwatch":
        from bot.adapters.cloudwatch_metrics import CloudWatchMetricSource  # boto3 loads only when used

        return CloudWatchMetricSource(region=settings.aws_region)
    from bot.adapters.local_metrics import LocalMetricSource

    return LocalMetricSource(settings.local_metrics)


def metric_history_from_settings(settings: Settings) -> MetricHistory:
    """The same store as `metric_source_from_settings`, for backtests over days."""
    if settings.metrics_backend == "cloudwatch":
        from bot.adapters.cloudwatch_metrics import CloudWatchMetricSource

        return CloudWatchMetricSource(region=settings.aws_region)
    from bot.adapters.local_metrics import LocalMetricSource

    return LocalMetricSource(settings.local_metrics)
