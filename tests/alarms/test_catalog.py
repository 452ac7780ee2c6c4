"""The alarm catalog read from the runbooks' front matter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.alarms.catalog import GUIDE_ALARMS, AlarmCatalog
from bot.alarms.severity import Severity
from bot.errors import ConfigError

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
QUERY_NAMES = {"errors-by-type", "latency-percentiles", "slow-operators", "dlq-spike-cause", "dlq-breakdown",
               "log-patterns"}


@pytest.fixture(scope="module")
def catalog() -> AlarmCatalog:
    """The repository's catalog with the default prefix."""
    return AlarmCatalog.load(RUNBOOKS)


@pytest.fixture
def runbooks_copy(tmp_path: Path) -> Path:
    """A scratch copy of the repository's runbooks."""
    return Path(shutil.copytree(RUNBOOKS, tmp_path / "runbooks"))


def test_catalog_holds_the_guides_alarms(catalog: AlarmCatalog) -> None:
    """Every alarm of the guide's catalog, the canary alarm and the checks' alarms have an entry, CRITICAL first."""
    assert [e.key for e in catalog.entries] == [
        "CheckpointFailure", "DLQSpike", "FirehoseDeliveryFailed", "InvariantViolated", "KafkaBrokerDown",
        "PipelineStalled", "ConsumerLagHigh", "LatencyP99High", "ReconciliationMismatch", "WindowCompletenessLow",
    ]


@pytest.mark.parametrize(("key", "severity"), sorted(GUIDE_ALARMS.items()))
def test_each_alarm_has_the_guides_severity(catalog: AlarmCatalog, key: str, severity: Severity) -> None:
    """DLQ, checkpoint, Kafka and Firehose alarms are CRITICAL; lag, latency and completeness are HIGH."""
    entry = catalog.lookup(f"orders-pipeline-{key}")
    assert entry is not None
    assert entry.severity is severity
    assert entry.runbook == RUNBOOKS / f"{key}.md"
    assert entry.dashboard in {"Health", "Performance", "Errors", "Capacity"}
    assert entry.title


def test_auto_run_queries_are_known_and_need_no_order_id(catalog: AlarmCatalog) -> None:
    """Runbooks only auto-run the guide's queries, never `order-trace` (it needs an order id)."""
    for entry in catalog.entries:
        assert entry.queries, entry.key
        assert set(entry.queries) <= QUERY_NAMES, entry.key


def test_dlq_spike_entry_matches_its_front_matter(catalog: AlarmCatalog) -> None:
    """The DLQ spike entry carries its title, queries, invitees and the Errors dashboard."""
    entry = catalog.lookup("orders-pipeline-DLQSpike")
    assert entry is not None
    assert entry.title == "DLQ spike"
    assert entry.queries == ("dlq-spike-cause", "dlq-breakdown", "errors-by-type", "log-patterns")
    assert entry.invite == ("flink-oncall", "data-platform")
    assert entry.dashboard == "Errors"
    assert entry.alarm_name == "orders-pipeline-DLQSpike"
    assert entry.runbook_url("https://git.example.com/runbooks/") == "https://git.example.com/runbooks/DLQSpike.md"
    assert entry.runbook_url("") == ""


def test_lookup_tolerates_case_and_rejects_other_names(catalog: AlarmCatalog) -> None:
    """A name differing only in case matches; without the prefix or with another suffix it does not."""
    assert catalog.lookup("ORDERS-PIPELINE-dlqspike") is catalog.lookup("orders-pipeline-DLQSpike")
    assert catalog.lookup("DLQSpike") is None
    assert catalog.lookup("orders-pipeline-DLQSpike2") is None
    assert catalog.lookup("EXAMPLE") is None


def test_prefix_is_configurable() -> None:
    """With ALARM_PREFIX `staging-orders-`, alarms are looked up under that prefix."""
    catalog = AlarmCatalog.load(RUNBOOKS, prefix="staging-orders-")
    entry = catalog.lookup("staging-orders-LatencyP99High")
    assert entry is not None
    assert entry.severity is Severity.HIGH
    assert catalog.lookup("orders-pipeline-LatencyP99High") is None


def test_bad_front_matter_stops_loading_with_every_problem_named(runbooks_copy: Path) -> None:
    """An invalid severity and a runbook without front matter both appear in the start-up error."""
    dlq = runbooks_copy / "DLQSpike.md"
    dlq.write_text(dlq.read_text().replace("severity: CRITICAL", "severity: URGENT"))
    (runbooks_copy / "Orphan.md").write_text("# no front matter here\n")
    with pytest.raises(ConfigError) as caught:
        AlarmCatalog.load(runbooks_copy)
    message = str(caught.value)
    assert "DLQSpike.md: `severity: URGENT` is not one of CRITICAL, HIGH, MEDIUM, LOW" in message
    assert "Orphan.md: no front matter" in message


def test_scan_keeps_good_entries_and_lists_bad_ones(runbooks_copy: Path) -> None:
    """A file whose `alarm` differs from its name, a bad dashboard and bad YAML are problems; others load."""
    lag = runbooks_copy / "ConsumerLagHigh.md"
    lag.write_text(lag.read_text().replace("alarm: ConsumerLagHigh", "alarm: LagHigh"))
    latency = runbooks_copy / "LatencyP99High.md"
    latency.write_text(latency.read_text().replace("dashboard: Performance", "dashboard: Grafana"))
    window = runbooks_copy / "WindowCompletenessLow.md"
    window.write_text(window.read_text().replace("queries: [", "queries: [[", 1))
    catalog, problems = AlarmCatalog.scan(runbooks_copy)
    assert len(catalog) == 7  # ten runbooks, three broken
    assert any("`alarm: LagHigh` does not match the file name ConsumerLagHigh.md" in p for p in problems)
    assert any("LatencyP99High.md: `dashboard: Grafana` is not one of" in p for p in problems)
    assert any("WindowCompletenessLow.md: front matter is not valid YAML" in p for p in problems)


def test_correlation_follows_the_guides_causal_chains(catalog: AlarmCatalog) -> None:
    """Broker down → lag → latency → completeness; checkpoint failure → lag; Firehose → completeness; DLQ alone."""
    name = "orders-pipeline-{}".format
    assert catalog.causes_of(name("WindowCompletenessLow")) == {
        "LatencyP99High", "ConsumerLagHigh", "KafkaBrokerDown", "CheckpointFailure", "FirehoseDeliveryFailed"}
    assert catalog.causes_of(name("ConsumerLagHigh")) == {"KafkaBrokerDown", "CheckpointFailure"}
    assert catalog.is_cause_of(name("KafkaBrokerDown"), name("LatencyP99High"))
    assert not catalog.is_cause_of(name("LatencyP99High"), name("KafkaBrokerDown"))
    assert name("KafkaBrokerDown") in catalog.related_names(name("WindowCompletenessLow"))
    assert name("FirehoseDeliveryFailed") not in catalog.related_names(name("KafkaBrokerDown"))
    assert catalog.related_names(name("DLQSpike")) == frozenset()
    assert catalog.related_names("orders-pipeline-Unknown") == frozenset()


def test_lint_names_unknown_causes_and_circles(runbooks_copy: Path) -> None:
    """`caused_by` must name alarm runbooks, and causes must not go round in a circle."""
    lag = runbooks_copy / "ConsumerLagHigh.md"
    lag.write_text(lag.read_text().replace("caused_by: [KafkaBrokerDown, CheckpointFailure]",
                                           "caused_by: [KafkaBrokerDown, BrokerOnFire, WindowCompletenessLow]"))
    _, problems = AlarmCatalog.scan(runbooks_copy)
    assert any("`caused_by: BrokerOnFire` names no alarm runbook" in p for p in problems), problems
    assert any("round in a circle" in p for p in problems), problems
    with pytest.raises(ConfigError, match="BrokerOnFire"):
        AlarmCatalog.load(runbooks_copy)
