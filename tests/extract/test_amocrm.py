"""amoCRM parsers against the developer docs' own examples, and the client end to end
against a local scripted server. Each golden file's source page is in golden/README.md."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from extract_testkit import FakeClock, Received, Reply, ScriptedServer, golden_json

from extract.amocrm import (
    extract_amocrm,
    land_records,
    parse_contact,
    parse_lead,
    parse_loss_reason,
    parse_pipeline,
    parse_status,
    parse_status_change,
)
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy, SourceAuthError
from extract.landing import RawLanding, RecordParseError

RECEIVED = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- parsers on the documented examples -------------------------------------------------


def test_leads_list_example():
    # amocrm.ru/developers/content/crm_platform/leads-api, "Список сделок"
    leads = golden_json("amocrm_leads_list.json")["_embedded"]["leads"]
    rows = [parse_lead(lead) for lead in leads]
    assert rows[0] == {
        "lead_id": 19619,
        "price": 46333,
        "pipeline_id": 1300,
        "status_id": 142,
        "loss_reason_id": None,
        "created_at": utc(2016, 1, 20, 8, 46, 47),
        "updated_at": utc(2017, 8, 8, 11, 58, 21),
        "closed_at": utc(2016, 12, 29, 10, 5, 31),
        "is_deleted": False,
        "contacts": None,  # the example was listed without with=contacts
        "custom_fields": [],  # custom_fields_values: null
    }
    assert (rows[1]["lead_id"], rows[1]["price"]) == (14460, 655)


def test_lead_detail_example_with_contacts_and_loss_reason():
    # amocrm.ru/developers/content/crm_platform/leads-api, "Получение сделки по ID"
    row = parse_lead(golden_json("amocrm_lead_detail.json"))
    assert row["lead_id"] == 3912171
    assert (row["pipeline_id"], row["status_id"]) == (3104455, 143)
    assert row["loss_reason_id"] == 4203748
    assert row["closed_at"] == utc(2020, 5, 28, 16, 28, 57)
    assert row["contacts"] == [{"contact_id": 10971465, "is_main": True}]


def test_lead_custom_fields_example():
    # amocrm.com.ua/developers/content/crm_platform/leads-api, "Одна сделка"
    row = parse_lead(golden_json("amocrm_lead_detail_custom_fields.json"))
    assert row["custom_fields"] == [
        {
            "field_id": 1278898021,
            "field_code": None,
            "field_name": "Кастомное поле",
            "values": ["2020-05-08"],
        }
    ]
    assert row["closed_at"] is None
    assert row["created_at"] == utc(2020, 4, 24, 15, 13, 46)


def test_custom_field_values_of_other_json_types_are_kept_as_text():
    lead = copy.deepcopy(golden_json("amocrm_lead_detail_custom_fields.json"))
    lead["custom_fields_values"][0]["values"] = [{"value": 1717642800}, {"value": True}]
    assert parse_lead(lead)["custom_fields"][0]["values"] == ["1717642800", "true"]


def test_contacts_list_example():
    # amocrm.ru/developers/content/crm_platform/contacts-api, "Список контактов"
    contacts = golden_json("amocrm_contacts_list.json")["_embedded"]["contacts"]
    assert [parse_contact(c) for c in contacts] == [
        {
            "contact_id": 7143599,
            "created_at": utc(2020, 4, 1, 16, 21, 5),
            "updated_at": utc(2020, 4, 1, 16, 21, 5),
            "is_deleted": None,
            "phones": [],
        },
        {
            "contact_id": 7767065,
            "created_at": utc(2020, 4, 8, 15, 26, 30),
            "updated_at": utc(2020, 4, 8, 15, 26, 30),
            "is_deleted": None,
            "phones": [],
        },
    ]


def test_contact_detail_example_keeps_the_phone_with_its_type():
    # amocrm.ru/developers/content/crm_platform/contacts-api, "Получение контакта по ID"
    # (the docs spell the type key "enum"; the live API "enum_code")
    contact = golden_json("amocrm_contact_detail.json")
    assert parse_contact(contact)["phones"] == [{"value": "+79123", "enum_code": "WORK"}]
    phone_value = contact["custom_fields_values"][0]["values"][0]
    phone_value["enum_code"] = phone_value.pop("enum")
    extra = {"value": "+7 912 000-00-00", "enum_id": 2, "enum_code": "MOB"}
    contact["custom_fields_values"][0]["values"].append(extra)
    assert parse_contact(contact)["phones"] == [
        {"value": "+79123", "enum_code": "WORK"},
        {"value": "+7 912 000-00-00", "enum_code": "MOB"},
    ]


def test_pipelines_example_flattens_to_one_row_per_pipeline_status():
    # amocrm.ru/developers/content/crm_platform/leads_pipelines, "Список воронок сделок"
    (pipeline_record,) = golden_json("amocrm_pipelines_list.json")["_embedded"]["pipelines"]
    pipeline = parse_pipeline(pipeline_record)
    rows = [parse_status(status, pipeline) for status in pipeline.statuses]
    assert [
        (r["status_id"], r["status_name"], r["status_sort"], r["status_type"]) for r in rows
    ] == [
        (32392156, "Неразобранное", 10, 1),
        (32392159, "Первичный контакт", 20, 0),
        (32392165, "Принимают решение", 30, 0),
        (142, "Успешно реализовано", 10000, 0),
        (143, "Закрыто и не реализовано", 11000, 0),
    ]
    assert {(r["pipeline_id"], r["pipeline_name"], r["pipeline_sort"]) for r in rows} == {
        (3177727, "Воронка", 1)
    }


def test_loss_reason_example():
    # loss reason object of leads-api "Получение сделки по ID" (_embedded.loss_reason)
    (record,) = golden_json("amocrm_loss_reasons_list.json")["_embedded"]["loss_reasons"]
    assert parse_loss_reason(record) == {
        "loss_reason_id": 4203748,
        "name": "Пропала потребность",
        "sort": 100000,
        "updated_at": utc(2020, 2, 19, 13, 1, 20),
    }


def test_status_change_event_from_the_documented_value_structure():
    # events-and-notes: list envelope + "Структуры данных ... lead_status_changed"
    (event,) = golden_json("amocrm_events_lead_status_changed.json")["_embedded"]["events"]
    assert parse_status_change(event) == {
        "event_id": "01pz58t6p04ymgsgfbmfyfy1mf",
        "lead_id": 26060763,
        "created_at": utc(2029, 11, 9, 3, 21, 28),
        "pipeline_id_before": 437642,
        "status_id_before": 5233224,
        "pipeline_id_after": 437642,
        "status_id_after": 5233224,
    }


def test_the_documented_lead_added_event_is_not_taken_for_a_status_change():
    # events-and-notes, "Список событий": the example event is of type lead_added
    (event,) = golden_json("amocrm_events_list.json")["_embedded"]["events"]
    with pytest.raises(RecordParseError, match="type is 'lead_added'"):
        parse_status_change(event)


def test_leads_listed_as_deleted_need_only_id_and_land_as_deleted():
    row = parse_lead({"id": 5, "updated_at": 1590683337}, deleted_listing=True)
    assert row["is_deleted"] is True and row["created_at"] is None
    assert row["updated_at"] == utc(2020, 5, 28, 16, 28, 57)
    with pytest.raises(RecordParseError, match="created_at is missing"):
        parse_lead({"id": 5, "updated_at": 1590683337})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"created_at": "yesterday"}, "created_at is not an integer: 'yesterday'"),
        ({"price": "1 000"}, "price is not an integer"),
        ({"id": None}, "id is missing"),
        ({"is_deleted": "no"}, "is_deleted is not a boolean"),
        ({"custom_fields_values": {"a": 1}}, "custom_fields_values is not a list"),
        (
            {"custom_fields_values": [{"field_id": "x", "values": []}]},
            r"custom_fields_values\[0\].field_id is not an integer",
        ),
        (
            {"_embedded": {"contacts": [{"is_main": True}]}},
            r"_embedded.contacts\[0\].id is missing",
        ),
    ],
)
def test_lead_parse_errors_name_the_field(change: dict[str, Any], reason: str):
    lead = {**golden_json("amocrm_lead_detail.json"), **change}
    with pytest.raises(RecordParseError, match=reason):
        parse_lead(lead)


# --- landing a page ---------------------------------------------------------------------


def test_a_page_lands_good_records_and_quarantines_bad_ones(tmp_path: Path):
    leads = golden_json("amocrm_leads_list.json")["_embedded"]["leads"]
    broken = {**leads[1], "id": 123, "created_at": "2020-01-01"}
    landing = RawLanding(tmp_path, "amocrm", "manual")
    landed = land_records(landing, "leads", "lead", [leads[0], broken], parse_lead, RECEIVED)
    landing.flush()
    assert landed == 1
    (row,) = pq.read_table(landing.entity_dir("leads")).to_pylist()
    assert row["lead_id"] == 19619
    assert json.loads(row["_payload"]) == leads[0]
    assert "Сделка для примера" in row["_payload"]  # as received, not \u-escaped
    assert row["_extracted_at"] == RECEIVED
    (bad,) = pq.read_table(landing.quarantine_dir).to_pylist()
    assert bad["entity"] == "leads" and bad["record_id"] == "123"
    assert bad["reason"].startswith("amocrm lead 123: created_at is not an integer")
    assert json.loads(bad["_payload"]) == broken


# --- the client against a scripted server -----------------------------------------------

WINDOW_FROM = utc(2026, 1, 1)
WINDOW_TO = utc(2026, 1, 2)
TOKEN = "amo-test-token-0001"


def _lead(lead_id: int, updated_at: int) -> dict[str, Any]:
    return {
        "id": lead_id,
        "price": 1000 * lead_id,
        "status_id": 142,
        "pipeline_id": 3177727,
        "loss_reason_id": None,
        "created_at": 1767225600,
        "updated_at": updated_at,
        "closed_at": None,
        "is_deleted": False,
        "custom_fields_values": None,
        "_embedded": {"contacts": [{"id": 900 + lead_id, "is_main": True}]},
    }


def _amocrm_routes(server: ScriptedServer) -> None:
    server.script(
        "/api/v4/leads/pipelines", [Reply(200, golden_json("amocrm_pipelines_list.json"))]
    )
    server.script(
        "/api/v4/leads/loss_reasons", [Reply(200, golden_json("amocrm_loss_reasons_list.json"))]
    )
    leads = [_lead(i, 1767225600 + i) for i in range(1, 6)]

    def leads_page(request: Received) -> Reply:
        if request.query.get("with") == ["only_deleted"]:
            return Reply(204)
        limit = int(request.query["limit"][0])
        page = int(request.query.get("page", ["1"])[0])
        since = int(request.query["filter[updated_at][from]"][0])
        listed = [lead for lead in leads if lead["updated_at"] >= since]
        chunk = listed[(page - 1) * limit : page * limit]
        if not chunk:
            return Reply(204)
        links = {"self": {"href": f"https://sub.amocrm.ru/api/v4/leads?page={page}"}}
        if page * limit < len(listed):
            # the next link repeats the query, on the account's own (here: foreign) host
            query = "&".join(f"{k}={v[0]}" for k, v in request.query.items() if k != "page")
            links["next"] = {"href": f"https://sub.amocrm.ru/api/v4/leads?{query}&page={page + 1}"}
        return Reply(200, {"_page": page, "_links": links, "_embedded": {"leads": chunk}})

    server.route("/api/v4/leads", leads_page)
    server.script(
        "/api/v4/contacts", [Reply(200, golden_json("amocrm_contacts_list.json") | {"_links": {}})]
    )
    server.script("/api/v4/events", [Reply(204)])


def _client(server: ScriptedServer, clock: FakeClock) -> HttpClient:
    return HttpClient(
        "amocrm",
        base_url=server.url,
        token=TOKEN,
        pacer=Pacer(7, 1.0, clock=clock.monotonic, sleep=clock.sleep),
        retry=RetryPolicy(max_attempts=3),
        sleep=clock.sleep,
    )


def test_extract_pages_through_every_entity_with_the_documented_filters(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    _amocrm_routes(server)
    landing = RawLanding(tmp_path, "amocrm", "manual")
    counts = extract_amocrm(
        SourceConnection(server.url, TOKEN),
        landing,
        updated_from=WINDOW_FROM,
        updated_to=WINDOW_TO,
        page_size=2,
        client=_client(server, clock),
    )
    assert counts == {
        "statuses": 5,
        "loss_reasons": 1,
        "leads": 5,
        "contacts": 2,
        "status_changes": 0,
    }
    lead_requests = [r for r in server.requests if r.path == "/api/v4/leads"]
    first = lead_requests[0].query
    assert first["filter[updated_at][from]"] == ["1767225600"]
    assert first["filter[updated_at][to]"] == ["1767311999"]  # [from, to) in whole seconds
    assert first["order[updated_at]"] == ["asc"]
    assert first["with"] == ["contacts,loss_reason"]
    # each request starts again at the last update time seen, whose lead it then skips
    anchors = [r.query["filter[updated_at][from]"][0] for r in lead_requests[:4]]
    assert anchors == [str(1767225600 + i) for i in (0, 2, 3, 4)]
    assert {r.query["page"][0] for r in lead_requests[:4]} == {"1"}
    assert lead_requests[4].query["with"] == ["only_deleted"]
    events = next(r for r in server.requests if r.path == "/api/v4/events").query
    assert events["filter[type]"] == ["lead_status_changed"]
    assert events["filter[created_at][from]"] == ["1767225600"]
    assert events["limit"] == ["2"]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    leads = pq.read_table(landing.entity_dir("leads")).to_pylist()
    assert sorted(r["lead_id"] for r in leads) == [1, 2, 3, 4, 5]
    assert len(list(landing.entity_dir("leads").glob("part-*.parquet"))) == 4  # one per page
    assert leads[0]["contacts"] == [{"contact_id": 901, "is_main": True}]
    assert landing.quarantined == {}


def test_extract_refuses_a_window_without_time_zone(tmp_path: Path, server: ScriptedServer):
    with pytest.raises(ValueError, match="timezone-aware"):
        extract_amocrm(
            SourceConnection(server.url, TOKEN),
            RawLanding(tmp_path, "amocrm", "manual"),
            updated_from=datetime(2026, 1, 1),
            updated_to=WINDOW_TO,
        )
    assert server.requests == []


def test_extract_stops_with_a_clear_error_on_a_rejected_token(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    server.script("/api/v4/leads/pipelines", [Reply(401, {"title": "Unauthorized", "status": 401})])
    with pytest.raises(SourceAuthError, match=r"amocrm: HTTP 401 on GET .*/api/v4/leads/pipelines"):
        extract_amocrm(
            SourceConnection(server.url, TOKEN),
            RawLanding(tmp_path, "amocrm", "manual"),
            updated_from=WINDOW_FROM,
            updated_to=WINDOW_TO,
            client=_client(server, clock),
        )
