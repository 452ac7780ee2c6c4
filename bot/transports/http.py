"""HTTP routes: SNS intake, health, metrics, and the read-only incidents API (`/api/*`, guarded by `bot.web.access`).

Every bad request gets a 4xx with `{"error": "<one line>"}`; nothing here lets an exception become a 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.alarms.models import alarm_from_body
from bot.errors import BadInput
from bot.incidents import listing, repository
from bot.incidents.listing import IncidentFilter
from bot.incidents.postmortem import postmortem_context
from bot.incidents.review import get_review
from bot.incidents.schemas import ErrorOut, IncidentDetail, IncidentList, IncidentOut

MAX_BODY = 256 * 1024
MAX_INCIDENT_ID = 2**31 - 1  # incident ids are 32-bit integers in PostgreSQL; a larger one names no incident

router = APIRouter()


def error(status: int, reason: str) -> JSONResponse:
    """The one error shape of this API."""
    return JSONResponse({"error": reason}, status_code=status)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The request body, or None once it exceeds `limit` bytes (checked while streaming, not after)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/sns")
async def sns(request: Request) -> Response:
    """SNS HTTP(S) subscription endpoint."""
    body = await read_body(request)
    if body is None:
        return error(413, f"body larger than {MAX_BODY // 1024} KiB")
    answer = await request.app.state.sns.handle(body)
    return JSONResponse(answer.body, status_code=answer.status)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """The database answers."""
    if await request.app.state.db.ping():
        return JSONResponse({"status": "ready"})
    return error(503, "database unreachable")


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad parameter"},
    401: {"model": ErrorOut, "description": "No or bad credential (sign in, or `Authorization: Bearer <token>`)"},
}
_ONE: dict[int | str, dict[str, Any]] = {**_ERRORS, 404: {"model": ErrorOut, "description": "No such incident"}}
_MARKDOWN: dict[int | str, dict[str, Any]] = {200: {"content": {"text/markdown": {}}, "description": "Markdown"}}


@router.get("/api/incidents", response_model=IncidentList, responses=_ERRORS)
async def list_incidents(
    request: Request, limit: int = 100, cursor: str | None = None, status: str | None = None,
    severity: str | None = None, alarm: str | None = None, since: str | None = None, until: str | None = None,
    q: str | None = None,
) -> Response:
    """Incidents, newest first, `limit` at a time; pass `next_cursor` back as `cursor` for the next page.

    Filters: `status`, `severity`, `alarm` (exact name), `since`/`until` (date or ISO time, on the opening),
    `q` (text in the title or alarm name).
    """
    try:
        where = IncidentFilter.parse(status=status, severity=severity, alarm=alarm, since=since, until=until, text=q)
        found = await request.app.state.db.run(lambda s: listing.page(s, where, limit=limit, cursor=cursor))
    except BadInput as exc:
        return error(400, exc.reason)
    body = IncidentList(incidents=[IncidentOut.of(r) for r in found.incidents], next_cursor=found.next_cursor)
    return JSONResponse(body.model_dump(mode="json"))


@router.get("/api/incidents/{incident_id}", response_model=IncidentDetail, responses=_ONE)
async def get_incident(request: Request, incident_id: int) -> Response:
    """One incident with its timeline (every transition, action and message) and its outbox steps."""
    if not 1 <= incident_id <= MAX_INCIDENT_ID:
        return error(404, f"no incident #{incident_id}")
    def load(session: Session) -> IncidentDetail | None:
        incident = repository.get(session, incident_id)
        if incident is None:
            return None
        return IncidentDetail.build(incident, repository.timeline(session, incident_id),
                                    repository.steps(session, incident_id), repository.alarms(session, incident_id))

    detail = await request.app.state.db.run(load)
    if detail is None:
        return error(404, f"no incident #{incident_id}")
    return JSONResponse(detail.model_dump(mode="json"))


@router.get("/api/incidents/{incident_id}/postmortem", responses={**_MARKDOWN, **_ONE})
async def get_postmortem(request: Request, incident_id: int) -> Response:
    """The post-incident template, filled from the timeline, as Markdown."""
    if not 1 <= incident_id <= MAX_INCIDENT_ID:
        return error(404, f"no incident #{incident_id}")
    def load(session: Session) -> dict[str, Any] | None:
        incident = repository.get(session, incident_id)
        if incident is None:
            return None
        entries = repository.timeline(session, incident_id)
        return postmortem_context(incident, entries, get_review(session, incident_id))

    context = await request.app.state.db.run(load)
    if context is None:
        return error(404, f"no incident #{incident_id}")
    text = request.app.state.playbook.runbooks.render_postmortem(context)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/api/incidents/{incident_id}/runbook", responses={**_MARKDOWN, **_ONE})
async def get_runbook(request: Request, incident_id: int) -> Response:
    """The incident's runbook rendered with its latest alarm, as Markdown."""
    if not 1 <= incident_id <= MAX_INCIDENT_ID:
        return error(404, f"no incident #{incident_id}")
    playbook = request.app.state.playbook
    incident = await request.app.state.db.run(lambda s: repository.get(s, incident_id))
    if incident is None:
        return error(404, f"no incident #{incident_id}")
    if not incident.alarm:
        return error(404, f"incident #{incident_id} was declared by hand and has no alarm runbook")
    event = alarm_from_body(incident.alarm)
    text = playbook.runbook(event, playbook.context(event, incident_id=incident.id, channel=incident.channel_name))
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/api/incidents/{incident_id}/graph.png",
            responses={200: {"content": {"image/png": {}}, "description": "The metric graph"}, **_ONE})
async def get_graph(request: Request, incident_id: int) -> Response:
    """The PNG graph of the incident's alarm metric (the alarm window and the hour before it, threshold line,
    ALARM shaded), as drawn when the incident opened; 404 when none was drawn."""
    found = await request.app.state.db.run(
        lambda s: (repository.get(s, incident_id) is not None, repository.graph(s, incident_id)))
    exists, png = found
    if not exists:
        return error(404, f"no incident #{incident_id}")
    if png is None:
        return error(404, f"incident #{incident_id} has no graph")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors and unknown routes answer with the one-line error shape; nothing becomes a 500."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("path", "query", "body"))
        return error(400, f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        # Answer 503 (SNS and Slack retry) instead of 500; NoTracebacks logs the one line.
        return error(503, "internal error; the request was not processed, retry later")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return error(exc.status_code, str(exc.detail))
