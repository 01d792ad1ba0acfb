from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from expectations import QualityGateFailed, run_quality_gate
from expectations.checks import DEFAULT_THRESHOLDS, ThresholdsError, load_thresholds

CREATED = datetime(2026, 2, 10, 9, 30, tzinfo=UTC)

# (source, channel, segment, phone_valid, phone_invalid_reason, is_deleted) -> count
REFERENCE_LEADS = {
    ("amocrm", "unattributed", "dealer", True, None, False): 40,
    ("amocrm", "yandex_direct", "private", True, None, False): 36,
    ("amocrm", "yandex_direct", "private", False, "no_phone", False): 4,
    ("amocrm", "yandex_direct", "private", False, "unparseable", False): 3,
    ("amocrm", "yandex_direct", "private", False, "invalid_number", False): 5,
    # Deleted leads with dead phones: excluded from every share.
    ("amocrm", "yandex_direct", "private", False, "invalid_number", True): 10,
    # A channel too small (5 < min_leads 20) to be judged on its own.
    ("amocrm", "organic", "private", True, None, False): 2,
    ("amocrm", "organic", "private", False, "invalid_number", False): 3,
}
REFERENCE_VALID_SHARE = (40 + 36 + 2) / (40 + 48 + 5)

DISASTER_LEADS = {
    ("amocrm", "yandex_direct", "private", True, None, False): 20,
    ("amocrm", "yandex_direct", "private", False, "invalid_number", False): 80,
}


def lead_rows(leads: dict[tuple, int]) -> list[tuple]:
    rows = []
    for (source, channel, segment, valid, reason, deleted), count in leads.items():
        for _ in range(count):
            rows.append(
                (
                    f"{source}:{len(rows) + 1}",
                    source,
                    CREATED,
                    segment,
                    channel,
                    valid,
                    reason,
                    deleted,
                )
            )
    return rows


def build_leads_model(warehouse: Path, rows: list[tuple]) -> None:
    """(Re)create intermediate.int_leads_enriched as the dbt model would, with these rows."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
        con.execute(
            """
            CREATE OR REPLACE TABLE intermediate.int_leads_enriched (
                lead_id VARCHAR, source VARCHAR, created_at TIMESTAMPTZ, cohort_month DATE,
                segment VARCHAR, channel VARCHAR, campaign_id VARCHAR, utm_source VARCHAR,
                utm_medium VARCHAR, utm_campaign VARCHAR, phone_valid BOOLEAN,
                phone_invalid_reason VARCHAR, is_deleted BOOLEAN
            )
            """
        )
        if not rows:
            return
        con.executemany(
            """
            INSERT INTO intermediate.int_leads_enriched
                (lead_id, source, created_at, segment, channel, phone_valid,
                 phone_invalid_reason, is_deleted)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            rows,
        )


def recorded(warehouse: Path, run_id: str) -> dict[tuple[str, str], tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT check_name, scope, status, observed_value, threshold, severity, details "
            "FROM quality.check_results WHERE run_id = ?",
            [run_id],
        ).fetchall()
    return {(row[0], row[1]): row[2:] for row in rows}


def test_reference_case_passes_and_warns_on_the_dodgy_channel(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    build_leads_model(warehouse, lead_rows(REFERENCE_LEADS))

    result = run_quality_gate(warehouse, "run-1")

    rows = recorded(warehouse, "run-1")
    assert {key: row[0] for key, row in rows.items()} == {
        ("valid_phone_share", "all"): "pass",
        ("valid_phone_share_by_source_channel", "amocrm/unattributed"): "pass",
        ("valid_phone_share_by_source_channel", "amocrm/yandex_direct"): "warn",
        ("unique_lead_id", "all"): "pass",
        ("created_at_not_null", "all"): "pass",
    }
    assert rows[("valid_phone_share", "all")][1:4] == (
        pytest.approx(REFERENCE_VALID_SHARE),
        0.60,
        "critical",
    )
    observed, threshold, severity, details = rows[
        ("valid_phone_share_by_source_channel", "amocrm/yandex_direct")
    ][1:]
    assert (observed, threshold, severity) == (pytest.approx(36 / 48), 0.85, "warning")
    assert "no_phone=4, unparseable=3, invalid_number=5" in details
    assert len(result.rows) == len(rows)
    assert result.summary() == "quality gate run-1: 5 checks, 4 passed, 1 warnings, 0 failed"


def test_planted_invalid_phones_fail_and_replace_the_runs_rows(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    build_leads_model(warehouse, lead_rows(REFERENCE_LEADS))
    run_quality_gate(warehouse, "run-1")
    run_quality_gate(warehouse, "run-0")  # another run's rows must survive the rerun
    build_leads_model(warehouse, lead_rows(DISASTER_LEADS))

    with pytest.raises(QualityGateFailed) as failed:
        run_quality_gate(warehouse, "run-1")

    assert str(failed.value) == (
        "critical check valid_phone_share failed: observed 0.2 < threshold 0.6 (scope all)"
    )
    rows = recorded(warehouse, "run-1")
    assert set(rows) == {
        ("valid_phone_share", "all"),
        ("valid_phone_share_by_source_channel", "amocrm/yandex_direct"),
        ("unique_lead_id", "all"),
        ("created_at_not_null", "all"),
    }
    assert rows[("valid_phone_share", "all")][:2] == ("fail", pytest.approx(0.2))
    assert len(recorded(warehouse, "run-0")) == 5


def test_duplicate_and_undated_leads_fail_naming_them(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    rows = lead_rows(REFERENCE_LEADS)
    rows.append(rows[0])
    rows.append(rows[0])
    rows[5] = (rows[5][0], rows[5][1], None, *rows[5][3:])
    build_leads_model(warehouse, rows)

    with pytest.raises(QualityGateFailed) as failed:
        run_quality_gate(warehouse, "run-1")

    message = str(failed.value)
    assert "critical check unique_lead_id failed: observed 2 > threshold 0 (scope all)" in message
    assert "critical check created_at_not_null failed: observed 1 > threshold 0" in message
    results = recorded(warehouse, "run-1")
    assert "sample=amocrm:1" in results[("unique_lead_id", "all")][4]
    assert "sample=amocrm:6" in results[("created_at_not_null", "all")][4]


def test_no_leads_to_measure_fails(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    build_leads_model(warehouse, [])

    with pytest.raises(QualityGateFailed, match="valid_phone_share failed: observed nothing"):
        run_quality_gate(warehouse, "run-1")


def test_edited_thresholds_turn_the_failure_into_a_warning(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    build_leads_model(warehouse, lead_rows(DISASTER_LEADS))
    thresholds = tmp_path / "thresholds.yml"
    thresholds.write_text(
        """
checks:
  valid_phone_share: {threshold: 0.9, severity: warning}
  valid_phone_share_by_source_channel: {threshold: 0.1, severity: critical, min_leads: 1}
  unique_lead_id: {threshold: 0, severity: critical}
  created_at_not_null: {threshold: 0, severity: critical}
"""
    )

    result = run_quality_gate(warehouse, "run-1", thresholds)

    assert [row.status for row in result.warnings] == ["warn"]
    assert result.warnings[0].check_name == "valid_phone_share"
    assert recorded(warehouse, "run-1")[("valid_phone_share", "all")][:3] == (
        "warn",
        pytest.approx(0.2),
        0.9,
    )


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda checks: checks.pop("created_at_not_null"), r"no entry for checks \['created_at"),
        (
            lambda checks: checks["valid_phone_share"].update(severity="blocker"),
            "check valid_phone_share: field severity must be one of",
        ),
        (
            lambda checks: checks["unique_lead_id"].update(treshold=1),
            r"check unique_lead_id: unknown keys \['treshold'\]",
        ),
    ],
)
def test_bad_thresholds_file_is_refused_naming_the_check(
    tmp_path: Path, edit: Callable[[dict], object], error: str
) -> None:
    config = yaml.safe_load(DEFAULT_THRESHOLDS.read_text())
    edit(config["checks"])
    path = tmp_path / "thresholds.yml"
    path.write_text(yaml.safe_dump(config))

    with pytest.raises(ThresholdsError, match=error):
        load_thresholds(path)


def test_missing_model_is_named(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()

    with pytest.raises(LookupError, match=r"intermediate\.int_leads_enriched not found"):
        run_quality_gate(warehouse, "run-1")
