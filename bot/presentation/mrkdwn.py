"""Slack mrkdwn that outside text cannot subvert.

Everything from outside (alarm fields, slash-command text, declared titles, log lines) goes through `escape`
(or `code` / `bold` / `code_line`, which escape too) before it is put in a message: `&`, `<`, `>` become
entities, so `<!channel>`, `<@U123>` and `<https://evil|x>` show as text and notify or link nobody; backticks
and asterisks become look-alikes (ˋ ∗), so the text cannot open or close a code span or bold. Only the bot's own
`mention_user`, `channel_link`, `link` and `here` produce live markup. `plain` is for plain-text fields (topic,
purpose, headers, PagerDuty summaries): no escaping there, control characters only.
"""

from __future__ import annotations

import re

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Look-alikes that Slack does not treat as delimiters.
_BACKTICK, _ASTERISK = "ˋ", "∗"


def escape(text: str) -> str:
    """Outside text for mrkdwn prose: `&`, `<`, `>` as entities (never a mention, link or command), and backticks
    and asterisks as look-alikes (it cannot open a code span or pair with the bot's own bold)."""
    return entities(text).replace("`", _BACKTICK).replace("*", _ASTERISK)


def entities(text: str) -> str:
    """Only `&`, `<`, `>` as entities (inside code, where other markup characters are inert anyway)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """Outside text as an inline code span it cannot leave (backticks replaced, one line)."""
    inner = " ".join(entities(text).replace("`", _BACKTICK).split())
    return f"`{inner or ' '}`"


def code_line(text: str) -> str:
    """One outside line made safe for a ``` block (escaped, backticks replaced, so it cannot close the block)."""
    return entities(text).replace("`", _BACKTICK).replace("\n", " ")


def fenced(safe_lines: list[str]) -> str:
    """A ``` block of lines already made safe with `code_line`."""
    return "```\n" + "\n".join(safe_lines) + "\n```"


def code_block(lines: list[str]) -> str:
    """Outside lines as a ``` block they cannot close."""
    return fenced([code_line(line) for line in lines])


def bold(text: str) -> str:
    """Outside text in bold that cannot end early (asterisks replaced, one line)."""
    inner = " ".join(escape(text).split())
    return f"*{inner}*" if inner else ""


def plain(text: str) -> str:
    """Text for plain-text fields (topic, purpose, plain_text objects): control characters become spaces."""
    return _CONTROL.sub(" ", text)


def mention_user(user: str) -> str:
    """A live mention for a Slack user id; anything else (an unresolved email, a handle) as escaped text."""
    return f"<@{user}>" if _USER_ID.fullmatch(user) else escape(user)


def is_user_id(text: str) -> bool:
    """True for a Slack user id (`U…`/`W…`)."""
    return bool(_USER_ID.fullmatch(text))


def mention_users(users: list[str] | tuple[str, ...]) -> str:
    """Mentions for several users, space-separated."""
    return " ".join(mention_user(u) for u in users)


def here() -> str:
    """`@here`: only for a reminder the bot decided must reach whoever is in the channel."""
    return "<!here>"


def channel_link(channel_id: str, fallback_name: str = "") -> str:
    """`<#C123>` for a real channel id, else `#name` as text."""
    if _CHANNEL_ID.fullmatch(channel_id):
        return f"<#{channel_id}>"
    return escape(f"#{fallback_name}") if fallback_name else escape(channel_id)


def link(url: str, label: str) -> str:
    """A link the bot chose: `<url|label>` with both parts unable to end the link early."""
    # Percent-encoding (not look-alikes) keeps the URL working while `|`, `<`, `>` cannot end the link early.
    safe_url = (url.replace("&", "&amp;").replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
                .replace(" ", "%20"))
    return f"<{safe_url}|{escape(label).replace('|', '¦')}>"
