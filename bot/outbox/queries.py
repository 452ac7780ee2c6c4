"""Query executor: run a catalog query on the log engine over the planned window and post the result."""

from __future__ import annotations

from datetime import datetime

from bot.errors import QueryError
from bot.incidents.ports import LogSearch, Message
from bot.incidents.steps import RunQuery
from bot.outbox.chat import ChatSteps
from bot.outbox.execution import Done, StepRun
from bot.presentation import mrkdwn as md
from bot.presentation.blocks import section
from bot.queries.catalog import QueryCatalog
from bot.queries.render import headline, result_message


class QuerySteps:
    """Runs `run_query` steps (chat lane: the answer is a post)."""

    def __init__(self, chat: ChatSteps, *, logs: LogSearch, queries: QueryCatalog) -> None:
        self.chat, self.logs, self.queries = chat, logs, queries

    async def run_query(self, payload: RunQuery, run: StepRun) -> Done:
        """Run once (the rendered answer is kept for retries of the post), then post it."""
        start, end = datetime.fromisoformat(payload.start), datetime.fromisoformat(payload.end)
        cached = run.state.get("message")
        if cached is None:
            query = self.queries.get(payload.query)
            try:
                result = await self.logs.run(query.render({}), start=start, end=end)
            except QueryError as exc:
                text = f"Query {payload.query} could not run: {exc}"
                cached = {"text": md.escape(text), "blocks": [section(f":warning: {md.escape(text)}")],
                          "headline": text}
            else:
                rendered = result_message(query, result, start=start, end=end)
                cached = {"text": rendered.text, "blocks": list(rendered.blocks), "headline": headline(query, result)}
            await run.save_state(message=cached)
        message = Message(text=cached["text"], blocks=cached["blocks"])
        channel = await self.chat.post_message(run, payload.target, message)
        return Done("query", cached["headline"],
                    {"query": payload.query, "channel": channel, "text": message.text,
                     "blocks": list(message.blocks), "record_only": self.chat.record_only})
