"""`incident-bot aws setup`: the SNS topics, the bot's subscription with its retry and dead-letter policies.

Definitions live in `bot.sns.subscription`; the topic names are those the alarms notify (`pipeline.alarms`).
`--dry-run` prints the requests as a JSON array and calls nothing. `--endpoint-url` (or boto3's own
`AWS_ENDPOINT_URL`) points at a local stand-in such as moto's server.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlsplit

import typer

from bot.cli.app import app
from bot.cli.deploy import DryRun, Endpoint, Region, _account

aws_app = typer.Typer(help="The AWS side of alarm delivery (SNS topics, subscription, dead-letter queue).",
                      no_args_is_help=True)
app.add_typer(aws_app, name="aws")

DLQ_NAME = "orders-pipeline-sns-dead-letters"


@aws_app.command("setup")
def setup(
    endpoint: Annotated[str, typer.Option(help="The bot's public SNS endpoint, e.g. https://HOST/sns.")],
    dry_run: DryRun = False,
    endpoint_url: Endpoint = None,
    region: Region = None,
    account: Annotated[str | None, typer.Option(help="Account id in ARNs (default: ask STS).")] = None,
) -> None:
    """Create the severity topics, subscribe ENDPOINT (the bot confirms it), retry ≥ 1 h, dead-letter the rest."""
    from bot.settings import load_settings
    from bot.sns.subscription import Plan, apply, requests
    from pipeline.alarms import DEFAULT_ACCOUNT, topic_names

    parts = urlsplit(endpoint)
    if parts.scheme != "https" or not parts.hostname:
        typer.echo(f"incident-bot: --endpoint must be an https URL such as https://HOST/sns, not {endpoint!r}",
                   err=True)
        raise typer.Exit(2)
    region = region or load_settings().aws_region
    if dry_run:
        plan = Plan(topics=topic_names(), endpoint=endpoint, queue_name=DLQ_NAME, region=region,
                    account=account or DEFAULT_ACCOUNT)
        typer.echo(json.dumps(requests(plan), indent=2))
        return
    import boto3

    plan = Plan(topics=topic_names(), endpoint=endpoint, queue_name=DLQ_NAME, region=region,
                account=_account(region, endpoint_url, account))
    result = apply(plan, sns=boto3.client("sns", region_name=region, endpoint_url=endpoint_url),
                   sqs=boto3.client("sqs", region_name=region, endpoint_url=endpoint_url))
    for arn in result.subscription_arns:
        typer.echo(f"subscribed {endpoint} ({arn}); the bot confirms it when SNS calls", err=True)
    typer.echo(f"SNS_TOPIC_ARNS={','.join(result.topic_arns)}")
    typer.echo(f"SNS_DLQ_URL={result.queue_url}")
