"""Runbooks: render `runbooks/*.md` for an alarm, the post-incident report, and lint the directory.

`RunbookLibrary` renders Markdown; `to_mrkdwn` converts it for Slack; `samples` holds what lint renders.
"""

from bot.runbooks.library import RunbookLibrary
from bot.runbooks.mrkdwn import to_mrkdwn

__all__ = ["RunbookLibrary", "to_mrkdwn"]
