"""`incident-bot alarms deploy` and `incident-bot dashboards deploy`: CloudWatch as code.

Definitions live in `pipeline.alarms` and `pipeline.dashboards`; these commands only send them with boto3
(`put_metric_alarm`, `put_dashboard`, both idempotent). `--dry-run` prints the requests as a JSON array instead.
`--endpoint-url` (or boto3's own `AWS_ENDPOINT_URL`) points at a local stand-in such as moto's server.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bot.cli.app import app

alarms_app = typer.Typer(help="CloudWatch alarms of the orders pipeline.", no_args_is_help=True)
dashboards_app = typer.Typer(help="CloudWatch dashboards of the orders pipeline.", no_args_is_help=True)
app.add_typer(alarms_app, name="alarms")
app.add_typer(dashboards_app, name="dashboards")

DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the requests as JSON; call nothing.")]
Endpoint = Annotated[str | None, typer.Option(help="CloudWatch endpoint (e.g. moto's server).")]
Region = Annotated[str | None, typer.Option(help="AWS region (default AWS_REGION).")]


def _cloudwatch(region: str, endpoint_url: str | None) -> Any:
    import boto3

    return boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url)


def _account(region: str, endpoint_url: str | None, account: str | None) -> str:
    """The account id for topic ARNs: given, or asked of STS."""
    if account:
        return account
    import boto3

    sts = boto3.client("sts", region_name=region, endpoint_url=endpoint_url)
    return str(sts.get_caller_identity()["Account"])


@alarms_app.command("deploy")
def deploy_alarms(
    dry_run: DryRun = False,
    endpoint_url: Endpoint = None,
    region: Region = None,
    account: Annotated[str | None, typer.Option(help="Account id in SNS topic ARNs (default: ask STS).")] = None,
) -> None:
    """Create or update every alarm with put_metric_alarm."""
    from bot.settings import load_settings
    from pipeline.alarms import DEFAULT_ACCOUNT, alarm_requests
    from pipeline.alarms import deploy_alarms as send

    settings = load_settings()
    region = region or settings.aws_region
    if dry_run:
        requests = alarm_requests(prefix=settings.alarm_prefix, region=region, account=account or DEFAULT_ACCOUNT)
        typer.echo(json.dumps(requests, indent=2))
        return
    requests = alarm_requests(prefix=settings.alarm_prefix, region=region,
                              account=_account(region, endpoint_url, account))
    for name in send(_cloudwatch(region, endpoint_url), requests):
        typer.echo(f"deployed alarm {name}")


@dashboards_app.command("deploy")
def deploy_dashboards(dry_run: DryRun = False, endpoint_url: Endpoint = None, region: Region = None) -> None:
    """Create or replace the Health, Performance, Errors and Capacity dashboards with put_dashboard."""
    from bot.settings import load_settings
    from pipeline.dashboards import deploy_dashboards as send
    from pipeline.dashboards import put_dashboard_requests

    settings = load_settings()
    region = region or settings.aws_region
    requests = put_dashboard_requests(queries_dir=settings.queries_dir, prefix=settings.dashboard_prefix,
                                      region=region, log_group=settings.log_groups[0])
    if dry_run:
        typer.echo(json.dumps([{**r, "DashboardBody": json.loads(r["DashboardBody"])} for r in requests], indent=2))
        return
    for name in send(_cloudwatch(region, endpoint_url), requests):
        typer.echo(f"deployed dashboard {name}")
