"""Bitrix24 parsers against the REST docs' own examples, and the client against a local
scripted server. Each golden file's source is in golden/README.md."""

# ruff: noqa: RUF001 - the data is Russian text: its Cyrillic letters are not look-alikes

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from extract_testkit import FakeClock, Received, Reply, ScriptedServer, golden_json

from extract.bitrix24 import (
    Page,
    extract_bitrix24,
    land_page,
    parse_contact,
    parse_deal,
    parse_lead,
    parse_stage_history,
    parse_status,
    webhook_base_url,
)
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy, SourceHttpError
from extract.landing import RawLanding, RecordParseError

SECRET = "w3bh00k-c0de-4f1a9"
RECEIVED = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- parsers on the documented examples -------------------------------------------------


def test_lead_list_example():
    leads = golden_json("bitrix24_lead_list.json")["result"]
    row = parse_lead(leads[0])
    assert row == {
        "lead_id": 5,
        "status_id": "CONVERTED",
        "status_semantic_id": "S",
        "status_description": None,
        "source_id": "CALL",
        "opportunity": Decimal("15000.00"),
        "currency_id": "RUB",
        "contact_id": 2069,
        "date_create": utc(2021, 5, 31, 12, 10, 16),  # 15:10:16+03:00
        "date_modify": utc(2021, 11, 26, 15, 56, 13),
        "date_closed": utc(2021, 7, 16, 13, 43, 44),
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "utm_content": None,
        "utm_term": None,
        "phones": None,  # PHONE was not in the example's select
        "user_fields": [
            {"field_code": "UF_CRM_1704817278", "value": None},
            {"field_code": "UF_CRM_1706782596092", "value": None},
            {"field_code": "UF_CRM_1708952993785", "value": "false"},
        ],
    }
    assert parse_lead(leads[1])["lead_id"] == 6


def test_lead_with_phones_keeps_every_value_and_the_junk_reason():
    lead = golden_json("bitrix24_lead_list_with_phones.json")["result"][0]
    row = parse_lead(lead)
    assert row["phones"] == [
        {"value": "+7 (916) 123-45-67", "value_type": "WORK"},
        {"value": "89161234568", "value_type": "MOBILE"},
    ]
    assert (row["status_id"], row["status_description"]) == ("JUNK", "Не дозвонились")
    assert row["opportunity"] is None  # "" means no amount
    assert row["date_create"] == utc(2026, 3, 31, 20, 30)  # March in UTC, April in Moscow
    assert row["user_fields"] == [{"field_code": "UF_CRM_1716200001", "value": "Дилер"}]


def test_deal_example_without_a_lead():
    deal = golden_json("bitrix24_deal_get.json")["result"]
    row = parse_deal(deal)
    assert row["deal_id"] == 6917
    assert row["lead_id"] is None  # LEAD_ID: null, a deal made directly
    assert row["contact_id"] == 275
    assert (row["category_id"], row["stage_id"], row["stage_semantic_id"]) == (9, "C9:NEW", "P")
    assert row["opportunity"] == Decimal("30.00")
    assert row["closed"] is False
    assert row["closedate"] == utc(2024, 8, 27, 0, 0)
    assert row["date_modify"] == utc(2025, 5, 5, 7, 17, 8)
    user_fields = {f["field_code"]: f["value"] for f in row["user_fields"]}
    assert user_fields["UF_CRM_66976FE3B2425"] == "[]"
    assert user_fields["UF_CRM_1723209318"] == "2025-04-29T03:00:00+03:00"


def test_stage_history_example_of_a_deal():
    item = golden_json("bitrix24_stagehistory_deal.json")["result"]["items"][0]
    assert parse_stage_history(item, 2) == {
        "entity_type_id": 2,
        "history_id": 35,
        "type_id": 1,
        "owner_id": 21,
        "created_time": utc(2024, 4, 25, 14, 59, 11),
        "category_id": 0,
        "stage_id": "NEW",
        "stage_semantic_id": "P",
    }


def test_stage_history_of_a_lead_reads_its_status_fields():
    item = {
        "ID": "7",
        "TYPE_ID": "3",
        "OWNER_ID": "156",
        "CREATED_TIME": "2026-04-02T10:00:00+03:00",
        "STATUS_ID": "JUNK",
        "STATUS_SEMANTIC_ID": "F",
    }
    row = parse_stage_history(item, 1)
    assert (row["stage_id"], row["stage_semantic_id"], row["category_id"]) == ("JUNK", "F", None)


def test_status_list_semantics_come_from_extra():
    rows = [parse_status(s) for s in golden_json("bitrix24_status_list.json")["result"]]
    assert [(r["entity_id"], r["status_id"], r["semantics"]) for r in rows] == [
        ("STATUS", "NEW", "process"),
        ("STATUS", "JUNK", "failure"),
        ("DEAL_STAGE", "WON", "success"),
    ]
    assert (rows[2]["sort"], rows[2]["category_id"], rows[0]["category_id"]) == (60, 0, None)


def test_contact_example_without_date_modify_is_quarantined_naming_the_field(tmp_path: Path):
    contacts = golden_json("bitrix24_contact_list.json")["result"]
    landing = RawLanding(tmp_path, "bitrix24", "run-1")
    written = land_page(landing, "contacts", "contact", Page(contacts, RECEIVED), parse_contact)
    landing.flush()
    assert written == 0
    quarantined = pq.read_table(landing.quarantine_dir).to_pylist()
    assert [q["reason"] for q in quarantined] == [
        "bitrix24 contact 75: DATE_MODIFY is missing",
        "bitrix24 contact 74: DATE_MODIFY is missing",
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("OPPORTUNITY", "15000.001", "OPPORTUNITY has more than 2 decimal places"),
        ("OPPORTUNITY", "много", "OPPORTUNITY is not a decimal"),
        ("DATE_MODIFY", "2021-11-26T18:56:13", "DATE_MODIFY has no UTC offset"),
        ("DATE_CREATE", "26.11.2021", "DATE_CREATE is not an ISO 8601 time"),
        ("ID", "abc", "ID is not an integer"),
        ("PHONE", "+79161234567", "PHONE is not a list"),
    ],
)
def test_a_malformed_field_is_named_in_the_error(field: str, value: str, message: str):
    lead = golden_json("bitrix24_lead_list_with_phones.json")["result"][0]
    with pytest.raises(RecordParseError, match=message):
        parse_lead({**lead, field: value})


# --- the client against a scripted portal -----------------------------------------------


def _client(server: ScriptedServer, clock: FakeClock) -> HttpClient:
    conn = SourceConnection(server.url, SECRET, login="1")
    return HttpClient(
        "bitrix24",
        base_url=webhook_base_url(conn),
        token=SECRET,
        pacer=Pacer(1000, 1.0, clock=clock.monotonic, sleep=clock.sleep),
        retry=RetryPolicy(max_attempts=3),
        sleep=clock.sleep,
        jitter=lambda: 0.0,
        bearer=False,
    )


def _empty(_: Received) -> Reply:
    return Reply(200, {"result": [], "total": 0})


def _route_all_empty(server: ScriptedServer) -> None:
    for method in ("crm.status.list", "crm.lead.list", "crm.deal.list", "crm.contact.list"):
        server.route(f"/rest/1/{SECRET}/{method}", _empty)
    server.route(
        f"/rest/1/{SECRET}/crm.stagehistory.list",
        lambda _: Reply(200, {"result": {"items": []}, "total": 0}),
    )


def test_leads_are_paged_by_id_within_the_modify_window(
    server: ScriptedServer, clock: FakeClock, tmp_path: Path
):
    _route_all_empty(server)
    lead = golden_json("bitrix24_lead_list_with_phones.json")["result"][0]
    pages = [
        Reply(200, {"result": [{**lead, "ID": str(i)} for i in (1, 2)], "next": 50, "total": 3}),
        Reply(200, {"result": [{**lead, "ID": "3"}], "total": 3}),  # no `next`: the last page
    ]
    server.script(f"/rest/1/{SECRET}/crm.lead.list", pages)
    landing = RawLanding(tmp_path, "bitrix24", "run-1")
    counts = extract_bitrix24(
        SourceConnection(server.url, SECRET, login="1"),
        landing,
        updated_from=utc(2026, 4, 1),
        updated_to=utc(2026, 4, 2),
        client=_client(server, clock),
    )
    assert counts["leads"] == 3
    lead_calls = [r for r in server.requests if r.path.endswith("/crm.lead.list")]
    bodies = [json.loads(r.body) for r in lead_calls]
    assert bodies[0]["filter"] == {
        ">=DATE_MODIFY": "2026-04-01T00:00:00+00:00",
        "<DATE_MODIFY": "2026-04-02T00:00:00+00:00",
    }
    assert bodies[1]["filter"][">ID"] == 2  # re-anchored on the last id seen
    assert "PHONE" in bodies[0]["select"]
    assert all(b["order"] == {"ID": "ASC"} for b in bodies)
    assert len(lead_calls) == 2
    assert all("Authorization" not in r.headers for r in server.requests)
    history_bodies = [
        json.loads(r.body) for r in server.requests if r.path.endswith("stagehistory.list")
    ]
    assert [b["entityTypeId"] for b in history_bodies] == [1, 2]


def test_query_limit_exceeded_is_retried_after_a_pause(
    server: ScriptedServer, clock: FakeClock, tmp_path: Path
):
    _route_all_empty(server)
    limited = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    server.script(
        f"/rest/1/{SECRET}/crm.status.list",
        [Reply(503, limited), Reply(200, golden_json("bitrix24_status_list.json"))],
    )
    counts = extract_bitrix24(
        SourceConnection(server.url, SECRET, login="1"),
        RawLanding(tmp_path, "bitrix24", "run-1"),
        updated_from=utc(2026, 4, 1),
        updated_to=utc(2026, 4, 2),
        client=_client(server, clock),
    )
    assert counts["statuses"] == 3
    assert clock.sleeps and clock.sleeps[0] >= 0.5  # backed off before the retry


def test_a_refused_webhook_names_the_method_but_never_the_secret(
    server: ScriptedServer, clock: FakeClock, tmp_path: Path
):
    server.route(
        f"/rest/1/{SECRET}/crm.status.list",
        lambda _: Reply(400, {"error": "INVALID_CREDENTIALS", "error_description": "Invalid"}),
    )
    with pytest.raises(SourceHttpError) as failure:
        extract_bitrix24(
            SourceConnection(server.url, SECRET, login="1"),
            RawLanding(tmp_path, "bitrix24", "run-1"),
            updated_from=utc(2026, 4, 1),
            updated_to=utc(2026, 4, 2),
            client=_client(server, clock),
        )
    message = str(failure.value)
    assert "crm.status.list" in message
    assert "INVALID_CREDENTIALS" in message
    assert SECRET not in message


def test_the_webhook_user_id_must_be_the_connection_login():
    with pytest.raises(ValueError, match="user id as its login"):
        webhook_base_url(SourceConnection("https://portal.bitrix24.ru", SECRET))
    conn = SourceConnection("https://portal.bitrix24.ru", SECRET, login="17")
    assert webhook_base_url(conn) == f"https://portal.bitrix24.ru/rest/17/{SECRET}"
    assert SECRET not in repr(conn)
