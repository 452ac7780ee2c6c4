"""Parts of a rendered runbook: its first steps (what a correlated alarm's responder reads first)."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*```")
_SECTION = re.compile(r"^\s{0,3}##\s")


def first_steps(markdown: str) -> str:
    """The runbook up to the end of its first `## ` section (the whole runbook when it has fewer than two)."""
    seen = 0
    in_fence = False
    lines = markdown.splitlines()
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and _SECTION.match(line):
            seen += 1
            if seen == 2:
                return "\n".join(lines[:index]).rstrip()
    return markdown
