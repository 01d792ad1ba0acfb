"""HubSpot parsers on golden payloads (see golden/README.md): expected values are read off
the payloads by hand, never produced by the code under test."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pendulum
import pytest
from extract_testkit import golden_json

from extract.connection import SourceConnection
from extract.hubspot import (
    DEFAULT_UTM_PROPERTIES,
    _epoch_ms,
    named_properties,
    parse_contact,
    parse_deal,
    parse_deal_contacts,
    parse_pipeline,
    parse_stage_history,
    utm_properties,
)
from extract.landing import RecordParseError


def test_contact_of_search_answer() -> None:
    record = golden_json("hubspot_search_contacts.json")["results"][0]
    row = parse_contact(record, DEFAULT_UTM_PROPERTIES)
    assert row["contact_id"] == 512
    assert row["created_at"] == datetime(2024, 1, 10, 8, 30, 15, 234000, tzinfo=UTC)
    assert row["updated_at"] == datetime(2024, 1, 15, 14, 22, 10, 456000, tzinfo=UTC)
    assert row["lifecycle_stage"] == "lead"
    assert row["phone"] == "+7 (912) 345-67-89"
    assert row["mobile_phone"] is None
    assert row["merged_object_ids"] == [498, 503]
    assert row["archived"] is False
    assert row["archived_at"] is None
    assert row["properties"] == [
        {"name": "hs_analytics_source", "value": "PAID_SEARCH"},
        {"name": "hs_analytics_source_data_1", "value": "brand_msk"},  # utm_campaign
        {"name": "hs_analytics_source_data_2", "value": "детские площадки"},  # search term
    ]


def test_contact_without_milliseconds_or_merges() -> None:
    record = golden_json("hubspot_search_contacts.json")["results"][1]
    row = parse_contact(record)
    assert row["created_at"] == datetime(2024, 1, 11, 9, 0, tzinfo=UTC)
    assert row["merged_object_ids"] == []
    assert row["mobile_phone"] == "89123456780"
    assert row["properties"] == []


def test_archived_contact_keeps_archived_at() -> None:
    record = {
        **golden_json("hubspot_search_contacts.json")["results"][1],
        "archived": True,
        "archivedAt": "2024-03-01T12:00:00.500Z",
    }
    row = parse_contact(record)
    assert row["archived"] is True
    assert row["archived_at"] == datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        ("lastmodifieddate", "1705328530456", "lastmodifieddate"),  # epoch ms is filters only
        ("hs_merged_object_ids", "498;x", "hs_merged_object_ids"),
        ("phone", 79123456789, "phone is not a string"),
    ],
)
def test_contact_with_a_bad_property_is_refused(prop: str, value: object, message: str) -> None:
    record = golden_json("hubspot_search_contacts.json")["results"][0]
    record["properties"][prop] = value
    with pytest.raises(RecordParseError, match=message):
        parse_contact(record)


def test_deal_of_batch_read() -> None:
    record = golden_json("hubspot_batch_read_deal_history.json")["results"][0]
    record["properties"] |= {"amount": "15000.50", "pipeline": "default", "hs_is_closed": "true"}
    row = parse_deal(record)
    assert row["deal_id"] == 9001
    assert row["stage_id"] == "closedwon"
    assert row["pipeline_id"] == "default"
    assert row["amount"] == Decimal("15000.50")
    assert row["is_closed"] is True
    assert row["is_closed_won"] is None
    assert row["updated_at"] == datetime(2024, 2, 20, 16, 45, 0, 120000, tzinfo=UTC)


def test_deal_amount_with_more_than_cents_is_refused() -> None:
    record = golden_json("hubspot_batch_read_deal_history.json")["results"][0]
    record["properties"]["amount"] = "10.005"
    with pytest.raises(RecordParseError, match="amount"):
        parse_deal(record)


def test_stage_history_has_one_row_per_value() -> None:
    record = golden_json("hubspot_batch_read_deal_history.json")["results"][0]
    rows = parse_stage_history(record)
    assert [(r["stage_id"], r["changed_at"]) for r in rows] == [
        ("closedwon", datetime(2024, 2, 20, 16, 45, 0, 120000, tzinfo=UTC)),
        ("appointmentscheduled", datetime(2024, 2, 1, 10, 0, tzinfo=UTC)),
    ]
    assert {r["deal_id"] for r in rows} == {9001}
    assert {r["source_type"] for r in rows} == {"CRM_UI"}


def test_pipeline_gives_one_row_per_stage() -> None:
    pipeline = golden_json("hubspot_pipelines_deals.json")["results"][0]
    rows = parse_pipeline(pipeline)
    assert [(r["stage_id"], r["stage_order"], r["is_closed"]) for r in rows] == [
        ("appointmentscheduled", 0, False),
        ("closedwon", 5, True),
    ]
    assert {(r["pipeline_id"], r["pipeline_label"]) for r in rows} == {
        ("default", "Sales Pipeline")
    }
    assert rows[1]["probability"] == "1.0"


def test_associations_give_deal_contact_pairs() -> None:
    result = golden_json("hubspot_associations_deals_contacts.json")["results"][0]
    assert parse_deal_contacts(result) == [
        {"deal_id": 9001, "contact_id": 512},
        {"deal_id": 9001, "contact_id": 513},
    ]


def test_utm_properties_are_configurable() -> None:
    default = SourceConnection("https://api.hubapi.com", "pat-1")
    custom = SourceConnection(
        "https://api.hubapi.com", "pat-1", extra={"utm_properties": ["utm_source"]}
    )
    assert utm_properties(default) == DEFAULT_UTM_PROPERTIES
    assert utm_properties(custom) == ("utm_source",)
    with pytest.raises(ValueError, match="utm_properties"):
        utm_properties(SourceConnection("https://x", "pat-1", extra={"utm_properties": "a"}))


def test_the_segment_property_is_the_persona_unless_configured() -> None:
    default = SourceConnection("https://api.hubapi.com", "pat-1")
    assert named_properties(default) == (
        "hs_analytics_source", "hs_analytics_source_data_1", "hs_analytics_source_data_2",
        "hs_persona",
    )  # fmt: skip
    custom = SourceConnection(
        "https://api.hubapi.com",
        "pat-1",
        extra={"utm_properties": ["utm_source", "client_type"], "segment_property": "client_type"},
    )
    assert named_properties(custom) == ("utm_source", "client_type")  # asked for once


@pytest.mark.parametrize("value", [["client_type"], "  ", None])
def test_a_segment_property_that_is_not_a_name_is_refused(value: object) -> None:
    conn = SourceConnection("https://x", "pat-1", extra={"segment_property": value})
    with pytest.raises(ValueError, match=r"extra\.segment_property"):
        named_properties(conn)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 1, 3, tzinfo=UTC),
        # Airflow hands the data interval over as a pendulum datetime.
        pendulum.datetime(2026, 1, 1, 6, tz="Europe/Moscow"),
    ],
)
def test_search_filters_take_epoch_milliseconds_of_any_aware_datetime(moment: datetime) -> None:
    assert _epoch_ms(moment) == "1767236400000"  # 2026-01-01T03:00:00Z
