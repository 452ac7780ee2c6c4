"""The template miner behind `pattern`: merging, counts per period, severity, diff and anomaly wording."""

from __future__ import annotations

import pytest

from bot.logquery.patterns import MaskedLine, Template, anomaly, difference, mine


def test_lines_differing_in_words_merge_and_unlike_lines_stay_apart() -> None:
    """Same length and first word, most fixed tokens equal: one template with `<*>` where they differ."""
    templates = mine([
        MaskedLine("Connection to alpha reset by peer", 5, 1, "Connection to alpha reset by peer"),
        MaskedLine("Connection to bravo reset by peer", 3, 0),
        MaskedLine("Connection pool exhausted after <*> tries", 2, 4),
    ])
    assert [(t.pattern, t.count, t.previous) for t in templates] == [
        ("Connection to <*> reset by peer", 8, 1), ("Connection pool exhausted after <*> tries", 2, 4)]
    assert templates[0].sample == "Connection to alpha reset by peer"


def test_result_does_not_depend_on_input_order() -> None:
    """The scan returns lines in any order; the templates are the same."""
    lines = [MaskedLine(f"Job {name} restarted", n) for name, n in (("a", 1), ("b", 5), ("c", 2))]
    assert [t.pattern for t in mine(lines)] == [t.pattern for t in mine(reversed(lines))] == ["Job <*> restarted"]


@pytest.mark.parametrize(("levels", "text", "label"), [
    ({"ERROR": 3}, "anything", "Error"), ({"warn": 1}, "anything", "Warning"), ({}, "Request FAILED", "Error"),
    ({}, "cache warming", "Unknown"), ({"DEBUG": 2}, "x", "Debug"),
])
def test_severity_from_level_then_words(levels: dict[str, int], text: str, label: str) -> None:
    """@severityLabel: the events' level field first, the template's words otherwise."""
    template = Template(text.split())
    template.levels.update(levels)
    assert template.severity == label


@pytest.mark.parametrize(("now", "before", "said"), [
    (5, 0, "new"), (0, 4, "gone"), (7, 3, "increased by 4"), (2, 9, "decreased by 7"), (3, 3, "unchanged")])
def test_difference_wording(now: int, before: int, said: str) -> None:
    """@differenceDescription for each kind of change."""
    assert difference(now, before) == said


def test_anomaly_needs_enough_events_and_a_big_move() -> None:
    """New, stopped, or a 3x move with at least 10 events; small or steady patterns are not anomalies."""
    def template(count: int, previous: int, text: str = "Order failed") -> Template:
        return Template(text.split(), count=count, previous=previous)

    assert anomaly(template(12, 0)) == ("new pattern: 12 events, none in the previous period", "HIGH")
    assert anomaly(template(30, 10, "Order processed")) == ("frequency up 3.0x (10 -> 30)", "MEDIUM")
    assert anomaly(template(0, 20))[1] == "LOW"  # type: ignore[index]
    assert anomaly(template(5, 0)) is None and anomaly(template(20, 15)) is None
