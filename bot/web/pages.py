"""The web view's routes: the incident list, one incident, its review, stats. Thin: parse, call, render.

Every route here sits behind `bot.web.access.AccessGuard`; forms that change something carry the session's
CSRF token and answer with a redirect (so a reload does not repeat them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from bot.errors import BadInput
from bot.incidents import repository
from bot.incidents.listing import SEVERITIES, STATUSES, IncidentFilter
from bot.incidents.postmortem import postmortem_context
from bot.incidents.review import FIELDS, ReviewFields, get_review, save_review
from bot.web import charts, present, views
from bot.web.access import Principal
from bot.web.commands import Action, incident_action
from bot.web.csrf import csrf_ok
from bot.web.render import render, render_error

PAGE_SIZE = 50
FORM_MAX = 64 * 1024  # five fields of at most 3,000 characters fit many times over

router = APIRouter(include_in_schema=False)


@router.get("/")
async def incident_list(request: Request, cursor: str | None = None, status: str | None = None,
                        severity: str | None = None, alarm: str | None = None, since: str | None = None,
                        until: str | None = None, q: str | None = None) -> Response:
    """Incidents newest first, filtered, 50 a page."""
    chosen = {"status": status or "", "severity": severity or "", "alarm": alarm or "", "since": since or "",
              "until": until or "", "q": q or ""}
    try:
        where = IncidentFilter.parse(status=status, severity=severity, alarm=alarm, since=since, until=until, text=q)
        view = await request.app.state.db.run(
            lambda s: views.incident_list(s, where, limit=PAGE_SIZE, cursor=cursor))
    except BadInput as exc:
        return render_error(request, 400, exc.reason)
    more = {k: v for k, v in chosen.items() if v}
    return render(request, "incidents.html", view=view, chosen=chosen, statuses=STATUSES, severities=SEVERITIES,
                  next_query={**more, "cursor": view.next_cursor} if view.next_cursor else None,
                  first_query=more if cursor else None)


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: int) -> Response:
    """One incident: status, links, alarm, graph, timeline, runbook, buttons."""
    state = request.app.state
    view = await state.db.run(lambda s: views.incident_detail(s, incident_id, playbook=state.playbook,
                                                              team_id=state.settings.slack_team_id))
    if view is None:
        return render_error(request, 404, f"No incident #{incident_id}.")
    # The graph is drawn by its own API route when one is installed; the page links it, never draws it.
    has_graph = bool(view.incident.alarm) and views.GRAPH_ROUTE in request.app.openapi().get("paths", {})
    return render(request, "incident.html", view=view, has_graph=has_graph)


@router.post("/incidents/{incident_id}/acknowledge")
async def acknowledge(request: Request, incident_id: int) -> Response:
    """The Acknowledge button."""
    return await _act(request, "acknowledge", incident_id)


@router.post("/incidents/{incident_id}/resolve")
async def resolve(request: Request, incident_id: int) -> Response:
    """The Resolve button."""
    return await _act(request, "resolve", incident_id)


@router.get("/incidents/{incident_id}/review")
async def review_page(request: Request, incident_id: int) -> Response:
    """The post-incident review: the filled report and the editable fields."""
    state = request.app.state
    found = await state.db.run(lambda s: views.review_form(s, incident_id))
    if found is None:
        return render_error(request, 404, f"No incident #{incident_id}.")
    incident, fields, stored = found
    report = await _report(request, incident_id)
    return render(request, "review.html", incident=incident, fields=fields, stored=stored, labels=FIELDS,
                  report_html=present.markdown(report or "", shift_headings=2))


@router.post("/incidents/{incident_id}/review")
async def save_review_form(request: Request, incident_id: int) -> Response:
    """Save the review fields (who and when are recorded)."""
    if _too_big(request):
        return render_error(request, 413, f"The form is larger than {FORM_MAX // 1024} KiB.")
    form = await request.form()
    refused = _refuse_form(request, form.get("csrf"))
    if refused:
        return refused
    values = {name: str(form.get(name) or "") for name, _ in FIELDS}
    try:
        at = request.app.state.clock()
        await request.app.state.db.run(lambda s: save_review(
            session=s, incident_id=incident_id, review=ReviewFields(**values), by=_who(request), at=at))
    except BadInput as exc:
        return render_error(request, 400, exc.reason)
    request.session["flash"] = "Review saved."
    return RedirectResponse(f"/incidents/{incident_id}/review", status_code=303)


@router.get("/incidents/{incident_id}/review.md")
async def review_markdown(request: Request, incident_id: int) -> Response:
    """The post-incident report with the review, as a Markdown download."""
    report = await _report(request, incident_id)
    if report is None:
        return render_error(request, 404, f"No incident #{incident_id}.")
    return PlainTextResponse(report, media_type="text/markdown; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="incident-{incident_id}-review.md"'})


@router.get("/stats")
async def stats_page(request: Request) -> Response:
    """Incidents per week and per alarm, MTTA and MTTR trends."""
    figures = await request.app.state.db.run(lambda s: views.weekly_stats(s, now=datetime.now(UTC)))
    return render(request, "stats.html", stats=figures, weekly=charts.weekly_bars(figures.weeks),
                  trends=charts.trend_lines(figures.weeks), per_alarm=charts.alarm_bars(figures.per_alarm))


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    """After logout."""
    return render(request, "signed_out.html")


async def _act(request: Request, action: Action, incident_id: int) -> Response:
    if _too_big(request):
        return render_error(request, 413, f"The form is larger than {FORM_MAX // 1024} KiB.")
    form = await request.form()
    refused = _refuse_form(request, form.get("csrf"))
    if refused:
        return refused
    try:
        incident = await incident_action(request.app.state, action, incident_id=incident_id, by=_who(request))
    except BadInput as exc:
        request.session["flash"] = exc.reason
    else:
        request.session["flash"] = f"Incident #{incident.id} is {incident.status}."
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


async def _report(request: Request, incident_id: int) -> str | None:
    def load(session: Any) -> dict[str, Any] | None:
        incident = repository.get(session, incident_id)
        if incident is None:
            return None
        return postmortem_context(incident, repository.timeline(session, incident_id),
                                  get_review(session, incident_id))

    context = await request.app.state.db.run(load)
    return None if context is None else str(request.app.state.playbook.runbooks.render_postmortem(context))


def _refuse_form(request: Request, token: object) -> Response | None:
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal) and not principal.ambient:
        return None  # a bearer token is never sent by a browser on its own: no cross-site request to forge
    if csrf_ok(request, token):
        return None
    return render_error(request, 403, "This form has expired; reload the page and try again.")


def _too_big(request: Request) -> bool:
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > FORM_MAX


def _who(request: Request) -> str | None:
    principal = getattr(request.state, "principal", None)
    return principal.user_id if isinstance(principal, Principal) else None
