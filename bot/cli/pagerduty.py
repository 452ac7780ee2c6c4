"""`incident-bot pagerduty setup`: the V3 webhook subscription that tells the bot what on-call does in PagerDuty.

Idempotent: the subscription of this service that already delivers to `--endpoint` is updated (only when its
events, filter or description differ), otherwise one is created. PagerDuty shows a subscription's signing secret
once, in the answer to its creation: this command prints it then, to add to `PAGERDUTY_WEBHOOK_SECRETS`.
`--dry-run` prints the request instead of sending it (looking the existing subscription up first when
`PAGERDUTY_API_TOKEN` is set, so the printed request is the one that would be sent).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bot.cli.app import app

pagerduty_app = typer.Typer(help="PagerDuty: webhooks from PagerDuty back to the bot.", no_args_is_help=True)
app.add_typer(pagerduty_app, name="pagerduty")

DESCRIPTION = "incident-bot: acknowledgements, resolutions, escalations and notes in PagerDuty reach the incident"


def subscription_body(*, endpoint: str, service_id: str) -> dict[str, Any]:
    """The V3 webhook subscription for one service, as the REST API takes it."""
    from bot.incidents.pagerduty_events import EVENT_TYPES

    return {"webhook_subscription": {
        "type": "webhook_subscription",
        "delivery_method": {"type": "http_delivery_method", "url": endpoint},
        "description": DESCRIPTION,
        "events": list(EVENT_TYPES),
        "filter": {"type": "service_reference", "id": service_id},
        "active": True,
    }}


def _up_to_date(existing: dict[str, Any], body: dict[str, Any]) -> bool:
    wanted = body["webhook_subscription"]
    return (set(existing.get("events") or []) == set(wanted["events"])
            and existing.get("filter") == wanted["filter"] and existing.get("description") == wanted["description"]
            and existing.get("active", True))


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@pagerduty_app.command("setup")
def setup(
    endpoint: Annotated[str, typer.Option(help="The bot's public webhook URL, https://HOST/pagerduty/webhook.")],
    service: Annotated[str, typer.Option(help="Id of the PagerDuty service the bot pages (e.g. PF9KMXH).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the request as JSON; change nothing.")] = False,
) -> None:
    """Create or update the V3 webhook subscription for SERVICE and print the secret to store."""
    from bot.adapters.pagerduty_rest import PagerDutyRest
    from bot.errors import DeliveryError, IncidentBotError
    from bot.settings import load_settings

    if not endpoint.startswith("https://") or not endpoint.rstrip("/").endswith("/pagerduty/webhook"):
        _fail("--endpoint must be https://HOST/pagerduty/webhook")
    if not service.isalnum():
        _fail("--service must be a PagerDuty service id such as PF9KMXH")
    try:
        settings = load_settings()
    except IncidentBotError as exc:
        _fail(str(exc))
        return
    api = settings.pagerduty_api_url.rstrip("/")
    body = subscription_body(endpoint=endpoint, service_id=service)
    if not settings.pagerduty_api_token:
        if dry_run:
            typer.echo(json.dumps({"method": "POST", "url": f"{api}/webhook_subscriptions", "body": body}, indent=2))
            return
        _fail("set PAGERDUTY_API_TOKEN (a REST API key allowed to manage webhook subscriptions)")
    try:
        rest = PagerDutyRest(settings.pagerduty_api_token, base_url=api)
    except IncidentBotError as exc:
        _fail(str(exc))
        return
    try:
        existing = next((s for s in rest.subscriptions(service_id=service)
                         if (s.get("delivery_method") or {}).get("url") == endpoint), None)
        if existing is not None and _up_to_date(existing, body):
            typer.echo(f"webhook subscription {existing['id']} for service {service} → {endpoint} is up to date")
            return
        method, url = ("PUT", f"{api}/webhook_subscriptions/{existing['id']}") if existing else (
            "POST", f"{api}/webhook_subscriptions")
        if dry_run:
            typer.echo(json.dumps({"method": method, "url": url, "body": body}, indent=2))
            return
        if existing is not None:
            rest.update_subscription(str(existing["id"]), body)
            typer.echo(f"updated webhook subscription {existing['id']} for service {service} → {endpoint}")
            typer.echo("its signing secret is unchanged (PagerDuty showed it when the subscription was created)")
            return
        created = rest.create_subscription(body)
        secret = (created.get("delivery_method") or {}).get("secret")
        typer.echo(f"created webhook subscription {created.get('id')} for service {service} → {endpoint}")
        typer.echo("signing secret (PagerDuty shows it only now; add it to PAGERDUTY_WEBHOOK_SECRETS):")
        typer.echo(str(secret))
    except DeliveryError as exc:
        _fail(str(exc))
    finally:
        rest.close()
