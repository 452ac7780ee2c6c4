"""The yardstick for `bench/intake.py`: a FastAPI app on uvicorn whose `POST /sns` reads the body and answers
at once, so intake is measured against the same server stack doing nothing."""

from __future__ import annotations

from fastapi import FastAPI, Request

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.post("/sns")
async def sns(request: Request) -> dict[str, str]:
    """Read the delivery and answer as intake would, without doing anything."""
    await request.body()
    return {"outcome": "noop"}


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    """Ready as soon as it listens."""
    return {"status": "ready"}
