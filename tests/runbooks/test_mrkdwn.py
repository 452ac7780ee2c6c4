"""Markdown to Slack mrkdwn conversion."""

from __future__ import annotations

from bot.runbooks import to_mrkdwn


def test_headings_bold_italic_and_links() -> None:
    """Headings become bold lines, `**b**` becomes `*b*`, `*i*` becomes `_i_`, links become `<url|text>`."""
    markdown = "# Title\n## 1. Detect\nPress the *Ack* button, **now**. See [the alarm](https://x.test/a?b=1&c=2)."
    assert to_mrkdwn(markdown) == (
        "*Title*\n*1. Detect*\nPress the _Ack_ button, *now*. See <https://x.test/a?b=1&amp;c=2|the alarm>."
    )


def test_escapes_angle_brackets_and_ampersands_everywhere() -> None:
    """`<`, `>` and `&` are escaped in text and code, so Slack shows them instead of parsing them."""
    assert to_mrkdwn("lag > 50K & DLQ < 10") == "lag &gt; 50K &amp; DLQ &lt; 10"
    assert to_mrkdwn("run `kafka --group <g>`") == "run `kafka --group &lt;g&gt;`"


def test_code_is_left_alone_apart_from_escaping() -> None:
    """Fenced code keeps `**`, `#` and `*` as written and loses its language tag."""
    markdown = "```bash\n# comment\necho **x** *y*\n```\n**after**"
    assert to_mrkdwn(markdown) == "```\n# comment\necho **x** *y*\n```\n*after*"


def test_inline_code_is_not_formatted() -> None:
    """Stars inside backticks stay stars."""
    assert to_mrkdwn("**bold** `a * b * c`") == "*bold* `a * b * c`"


def test_lists_quotes_rules_and_checkboxes() -> None:
    """Bullets become •, checkboxes ☐/☑, a `>` quote stays a Slack quote, a rule becomes a line."""
    markdown = "- one\n  * two\n- [ ] todo\n- [x] done\n> quoted **text**\n---\n1. first"
    assert to_mrkdwn(markdown) == "• one\n  • two\n• ☐ todo\n• ☑ done\n> quoted *text*\n────────\n1. first"


def test_tables_become_code_blocks() -> None:
    """A Markdown table is kept aligned in a code block, without its separator row."""
    markdown = "Thresholds:\n| Metric | Critical |\n|---|---|\n| lag | >50K |\nend"
    assert to_mrkdwn(markdown) == "Thresholds:\n```\n| Metric | Critical |\n| lag | &gt;50K |\n```\nend"
