"""Google Ads searchStream: stream reading and row parsing on golden payloads (see
golden/README.md for which are verbatim), error bodies, and the client against a local
scripted server. Expected values are written out by hand or decoded by the stdlib `json`."""

from __future__ import annotations

import io
import json
import logging
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from extract_testkit import GOLDEN, FakeClock, Received, Reply, ScriptedServer, golden_json

from extract.ad_account import AdAccount
from extract.connection import SourceConnection
from extract.google_ads import (
    ENTITY,
    campaign_stats_query,
    extract_google_ads,
    fetch_access_token,
    make_client,
    normalize_customer_id,
    parse_campaign_stats,
    parse_failure,
    read_stream,
    refresh_grant,
    stats_rows,
)
from extract.http import (
    HttpClient,
    SourceAuthError,
    SourceError,
    SourceHttpError,
    SourceResponseError,
    redact,
)
from extract.landing import RawLanding, RecordParseError

CUSTOMER = "4561237890"
ACCOUNT = AdAccount(CUSTOMER, "USD", "America/New_York")
STREAM_PATH = f"/v26/customers/{CUSTOMER}/googleAds:searchStream"
OAUTH_TOKEN = "ya29.google-ads-test-access-token"
DEVELOPER_TOKEN = "gads-dev-token-0123456789"
JANUARY = (date(2026, 1, 1), date(2026, 1, 31))


class Quarantine:
    def __init__(self) -> None:
        self.records: list[tuple[str | None, str, str]] = []

    def __call__(self, record_id: str | None, reason: str, payload: str) -> None:
        self.records.append((record_id, reason, payload))


def golden_bytes(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


def batches_of(raw: bytes, **options: Any) -> list[list[Any]]:
    return list(read_stream(io.BytesIO(raw), CUSTOMER, **options))


# --- golden payloads ---------------------------------------------------------------------


def test_docs_example_envelope_reads_and_its_keyword_row_is_quarantined():
    # developers.google.com/google-ads/api/rest/design/json-mappings, verbatim
    batches = batches_of(golden_bytes("google_ads_search_stream_docs_example.json"))
    assert [len(results) for results in batches] == [1]
    quarantine = Quarantine()
    assert list(stats_rows(batches, ACCOUNT, quarantine)) == []
    ((record_id, reason, payload),) = quarantine.records
    assert record_id == "None:None"
    assert f"customer {CUSTOMER}" in reason and "segments is not an object" in reason
    assert json.loads(payload) == {
        "adGroupCriterion": {
            "resourceName": "customers/1842689525/adGroupCriteria/55771861891~10003060",
            "keyword": {"text": "pay per click"},
        }
    }


def test_golden_campaign_stream_lands_rows_exactly_and_quarantines_the_rest():
    raw = golden_bytes("google_ads_search_stream_campaigns.json")
    quarantine = Quarantine()
    rows = list(stats_rows(batches_of(raw), ACCOUNT, quarantine))
    assert [
        (r["date"], r["campaign_id"], r["campaign_name"], r["impressions"], r["clicks"], r["cost"])
        for r in rows
    ] == [
        (date(2026, 3, 2), 21450000101, "Детские площадки — Поиск", 1000, 80, Decimal("2.5")),
        (date(2026, 3, 2), 21450000102, "Brand — Search", 37, 0, Decimal(0)),
        (date(2026, 3, 3), 21450000101, "Детские площадки — Поиск", 15234, 12,
         Decimal("11200.300001")),
        (date(2026, 3, 3), 21450000103, "Performance Max", 5, None, None),  # not reported: NULL
    ]  # fmt: skip
    assert {(r["account"], r["currency"], r["time_zone"]) for r in rows} == {
        (CUSTOMER, "USD", "America/New_York")
    }
    wire = [result for batch in json.loads(raw) for result in batch["results"]]
    assert [json.loads(r["_payload"]) for r in rows] == wire[:4]
    assert [(record_id, payload) for record_id, _, payload in quarantine.records] == [
        ("2026-03-03:21450000104", json.dumps(wire[4], ensure_ascii=False)),
        ("2026-03-04:None", json.dumps(wire[5], ensure_ascii=False)),
    ]
    reasons = [reason for _, reason, _ in quarantine.records]
    assert "date 2026-03-03 campaign 21450000104: metrics.costMicros '1.5'" in reasons[0]
    assert "date 2026-03-04 campaign None: campaign.id is missing" in reasons[1]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 64])
def test_reading_in_small_chunks_splits_characters_and_elements_safely(chunk_bytes: int):
    raw = golden_bytes("google_ads_search_stream_campaigns.json")  # Cyrillic: 2-byte characters
    expected = [batch["results"] for batch in json.loads(raw)]
    assert batches_of(raw, chunk_bytes=chunk_bytes) == expected


def test_quota_error_golden_gives_its_retry_delay_codes_and_request_id():
    document = golden_json("google_ads_error_quota.json")
    for wire in (document, [document]):  # as reported, and wrapped as searchStream sends it
        failure = parse_failure(wire)
        assert failure is not None
        assert (failure.code, failure.status) == (429, "RESOURCE_EXHAUSTED")
        assert failure.retry_delay == 40591.0
        assert failure.request_id == "xN_KaZRHZuU6Rlgt3cM2uQ"
        assert failure.errors == (
            "quotaError.RESOURCE_EXHAUSTED: Too many requests. Retry in 40591 seconds.",
        )
    assert parse_failure([{"results": []}]) is None
    assert parse_failure("not an error") is None


# --- the stream reader -------------------------------------------------------------------


def test_empty_answers_have_no_rows():
    assert batches_of(b"[]") == []
    assert batches_of(b' [ {"fieldMask": "campaign.id", "requestId": "r"} ]\n') == [[]]


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9])
def test_a_body_cut_off_anywhere_raises(fraction: float):
    raw = golden_bytes("google_ads_search_stream_campaigns.json").rstrip()
    cut = raw[: max(1, int(len(raw) * fraction))] if fraction else raw[:-1]
    with pytest.raises(SourceResponseError, match=CUSTOMER):
        batches_of(cut, chunk_bytes=16)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"results": []}',
        b'[{"results": []} {"results": []}]',
        b'[{"results": []},]',
        b'[{"results": []}] trailing',
        b"[1]",
        b'[{"results": {}}]',
        b'[{"results": []}, nul]',
        b'[{"results": ["\xff"]}]',
    ],
)
def test_malformed_bodies_raise(body: bytes):
    with pytest.raises(SourceResponseError):
        batches_of(body)


def test_an_error_element_after_rows_raises_with_the_api_error():
    row = golden_json("google_ads_search_stream_campaigns.json")[0]["results"][0]
    error = {
        "code": 503,
        "message": "The service is currently unavailable.",
        "status": "UNAVAILABLE",
    }
    body = json.dumps([{"results": [row]}, {"error": error}]).encode()
    with pytest.raises(SourceHttpError, match="UNAVAILABLE") as raised:
        batches_of(body)
    assert raised.value.status == 503 and "element 1" in str(raised.value)


# --- row fields --------------------------------------------------------------------------


def _result(**metrics: Any) -> dict[str, Any]:
    return {
        "segments": {"date": "2026-01-02"},
        "campaign": {"id": "55", "name": "x"},
        "metrics": metrics,
    }


@pytest.mark.parametrize(
    ("micros", "cost"),
    [
        ("2500000", Decimal("2.5")),
        ("1", Decimal("0.000001")),
        ("999999999999999999", Decimal("999999999999.999999")),
        (2500000, Decimal("2.5")),  # proto3 JSON parsers accept a number for int64 too
    ],
)
def test_cost_is_micros_divided_exactly(micros: Any, cost: Decimal):
    assert parse_campaign_stats(_result(costMicros=micros), ACCOUNT)["cost"] == cost


@pytest.mark.parametrize(
    ("result", "field"),
    [
        (_result(costMicros="1000000000000000000"), "metrics.costMicros"),  # past decimal(18, 6)
        (_result(costMicros="2.5"), "metrics.costMicros"),
        (_result(costMicros=True), "metrics.costMicros"),
        (_result(clicks="9223372036854775808"), "metrics.clicks"),  # past int64
        (_result(impressions=""), "metrics.impressions"),
        ({**_result(), "segments": {"date": "2026-02-30"}}, "segments.date"),
        ({**_result(), "campaign": {"id": "55", "name": 7}}, "campaign.name"),
        ({**_result(), "metrics": []}, "metrics"),
    ],
)
def test_a_field_that_does_not_parse_is_named(result: dict[str, Any], field: str):
    with pytest.raises(RecordParseError, match=field):
        parse_campaign_stats(result, ACCOUNT)


def test_customer_ids_take_dashes_and_nothing_else():
    assert normalize_customer_id("456-123-7890") == CUSTOMER
    assert normalize_customer_id(" 4561237890 ") == CUSTOMER
    for bad in ("456123789", "456-123-789O", "45612378901", "456--123-7890", 4561237890):
        with pytest.raises(ValueError, match="ten digits"):
            normalize_customer_id(bad)  # type: ignore[arg-type]


def test_the_query_asks_for_campaign_days_of_the_inclusive_range():
    assert campaign_stats_query(date(2026, 1, 1), date(2026, 1, 31)) == (
        "SELECT segments.date, campaign.id, campaign.name, metrics.cost_micros, "
        "metrics.clicks, metrics.impressions FROM campaign "
        "WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-31'"
    )
    with pytest.raises(ValueError, match="after date_to"):
        campaign_stats_query(date(2026, 2, 1), date(2026, 1, 1))


# --- the client against a scripted server ------------------------------------------------


def _client(
    server: ScriptedServer,
    clock: FakeClock,
    *,
    developer_token: str | None = DEVELOPER_TOKEN,
    login_customer_id: str | None = None,
) -> HttpClient:
    """The real client (headers, retry hint) whose retry waits land on the fake clock."""
    extra = {} if developer_token is None else {"developer_token": developer_token}
    return make_client(
        SourceConnection(server.url, OAUTH_TOKEN, extra=extra),
        login_customer_id=login_customer_id,
        sleep=clock.sleep,
    )


def _extract(tmp_path: Path, client: HttpClient) -> tuple[RawLanding, dict[str, int]]:
    landing = RawLanding(tmp_path, "google_ads", "manual")
    counts = extract_google_ads(
        SourceConnection("http://unused.invalid", OAUTH_TOKEN),
        landing,
        ACCOUNT,
        date_from=JANUARY[0],
        date_to=JANUARY[1],
        client=client,
    )
    return landing, counts


def _json_reply(status: int, document: Any) -> Reply:
    return Reply(status, document, {"Content-Type": "application/json; charset=UTF-8"})


def test_the_request_carries_the_query_and_the_headers(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    server.script(STREAM_PATH, [_json_reply(200, [])])
    client = _client(server, clock, login_customer_id="111-222-3334")
    _, counts = _extract(tmp_path, client)
    assert counts == {ENTITY: 0}
    (sent,) = server.requests
    assert sent.method == "POST"
    assert json.loads(sent.body) == {"query": campaign_stats_query(*JANUARY)}
    assert sent.headers["Authorization"] == f"Bearer {OAUTH_TOKEN}"
    assert sent.headers["developer-token"] == DEVELOPER_TOKEN
    assert sent.headers["login-customer-id"] == "1112223334"


def test_without_a_configured_developer_token_the_header_is_left_out(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    server.script(STREAM_PATH, [_json_reply(200, [])])
    _extract(tmp_path, _client(server, clock, developer_token=None))
    (sent,) = server.requests
    assert "developer-token" not in {name.lower() for name in sent.headers}
    assert "login-customer-id" not in {name.lower() for name in sent.headers}


def test_a_quota_error_waits_its_retry_delay_then_lands(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    quota = golden_json("google_ads_error_quota.json")
    quota["error"]["details"][0]["errors"][0]["details"]["quotaErrorDetails"]["retryDelay"] = "7s"
    campaigns = golden_json("google_ads_search_stream_campaigns.json")
    server.script(STREAM_PATH, [_json_reply(429, [quota]), _json_reply(200, campaigns)])
    landing, counts = _extract(tmp_path, _client(server, clock))
    assert counts == {ENTITY: 4} and landing.quarantined == {ENTITY: 2}
    assert clock.sleeps == [7.0]
    assert len(server.requests) == 2


def test_a_quota_delay_of_hours_fails_at_once_instead_of_stalling(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    server.script(STREAM_PATH, [_json_reply(429, [golden_json("google_ads_error_quota.json")])])
    with pytest.raises(SourceHttpError, match="40591 s"):
        _extract(tmp_path, _client(server, clock))
    assert clock.sleeps == [] and len(server.requests) == 1


def test_a_permission_error_fails_at_once_naming_customer_codes_and_request_id(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    denied = golden_json("google_ads_error_permission_denied.json")
    server.script(STREAM_PATH, [_json_reply(403, denied)])
    with pytest.raises(SourceAuthError) as raised:
        _extract(tmp_path, _client(server, clock))
    message = str(raised.value)
    assert message.startswith(
        f"google_ads: customer {CUSTOMER}: searchStream refused with HTTP 403"
    )
    assert "PERMISSION_DENIED" in message
    assert "authorizationError.USER_PERMISSION_DENIED" in message
    assert "requestId c9ugRp4PtwqWRcea9Gd9Cw" in message
    assert "set login_customer_id" in message  # the hint for the usual cause
    assert len(server.requests) == 1


def test_a_query_error_is_not_an_auth_error_and_is_not_retried(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    bad_query = {
        "error": {
            "code": 400,
            "message": "Request contains an invalid argument.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure",
                    "errors": [
                        {
                            "errorCode": {"queryError": "BAD_FIELD_NAME"},
                            "message": "Unrecognized field in the query: 'metrics.cost'.",
                        }
                    ],
                    "requestId": "q1",
                }
            ],
        }
    }
    server.script(STREAM_PATH, [_json_reply(400, [bad_query])])
    with pytest.raises(SourceHttpError) as raised:
        _extract(tmp_path, _client(server, clock))
    assert not isinstance(raised.value, SourceAuthError)
    assert "queryError.BAD_FIELD_NAME" in str(raised.value) and len(server.requests) == 1


def test_an_error_inside_a_200_stream_lands_nothing(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    campaigns = golden_json("google_ads_search_stream_campaigns.json")
    failure = golden_json("google_ads_error_quota.json")
    server.script(STREAM_PATH, [_json_reply(200, [campaigns[0], failure])])
    with pytest.raises(SourceHttpError, match="failed after it began") as raised:
        _extract(tmp_path, _client(server, clock))
    assert raised.value.status == 429
    assert not (tmp_path / "google_ads").exists()  # neither rows nor quarantine


def test_a_200_body_cut_mid_array_lands_nothing(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    raw = golden_bytes("google_ads_search_stream_campaigns.json")
    server.script(STREAM_PATH, [Reply(200, raw[: len(raw) * 2 // 3])])
    with pytest.raises(SourceResponseError, match="breaks off"):
        _extract(tmp_path, _client(server, clock))
    assert not (tmp_path / "google_ads").exists()


def test_tokens_a_server_echoes_are_masked_in_errors_and_logs(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    developer_token = "gads-echoed-dev-token-5f1c9a"  # registered by no other test

    def echo(received: Received) -> Reply:
        seen = f"developer-token {received.headers['developer-token']}, "
        seen += f"authorization {received.headers['Authorization']}"
        error = {"code": 400, "message": f"Bad headers: {seen}", "status": "INVALID_ARGUMENT"}
        return _json_reply(400, [{"error": error}])

    unavailable = {"code": 503, "message": "The service is currently unavailable."}
    first = iter([_json_reply(503, [{"error": {**unavailable, "status": "UNAVAILABLE"}}])])
    server.route(STREAM_PATH, lambda received: next(first, None) or echo(received))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as raised:
        _extract(tmp_path, _client(server, clock, developer_token=developer_token))
    message = str(raised.value)
    assert "Bad headers: developer-token ***" in message
    for secret in (developer_token, OAUTH_TOKEN):
        assert secret not in message
        assert secret not in caplog.text
    assert "retry 1/" in caplog.text  # the 503 was logged on the way


# --- OAuth refresh-token flow against a scripted token endpoint ----------------------------

TOKEN_PATH = "/o/oauth2/token"
CLIENT_ID = "98765-scripted.apps.googleusercontent.com"


def _oauth_connection(server: ScriptedServer, **extra: str) -> SourceConnection:
    oauth = {
        "token_uri": f"{server.url}{TOKEN_PATH}",
        "client_id": CLIENT_ID,
        "client_secret": "GOCSPX-scripted-client-secret",
        "refresh_token": "1//0scripted-refresh-token",
    }
    return SourceConnection(server.url, None, extra={**oauth, **extra})


def _issued(access_token: str) -> Reply:
    return _json_reply(
        200,
        {
            "access_token": access_token,
            "expires_in": 3599,
            "scope": "https://www.googleapis.com/auth/adwords",
            "token_type": "Bearer",
        },
    )


def test_the_token_request_is_the_documented_form_and_its_token_the_bearer(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    server.script(TOKEN_PATH, [_issued("ya29.a0-scripted-access-token")])
    server.script(STREAM_PATH, [_json_reply(200, [])])
    _extract(tmp_path, make_client(_oauth_connection(server), login_customer_id=None))
    token_request, stream_request = server.requests
    assert (token_request.method, token_request.path) == ("POST", TOKEN_PATH)
    headers = {name.lower(): value for name, value in token_request.headers.items()}
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in headers
    assert parse_qs(token_request.body.decode(), strict_parsing=True) == {
        "grant_type": ["refresh_token"],
        "client_id": [CLIENT_ID],
        "client_secret": ["GOCSPX-scripted-client-secret"],
        "refresh_token": ["1//0scripted-refresh-token"],
    }
    assert stream_request.headers["Authorization"] == "Bearer ya29.a0-scripted-access-token"


def test_the_issued_access_token_is_registered_for_redaction(server: ScriptedServer):
    server.script(TOKEN_PATH, [_issued("ya29.issued-only-here-5e0c")])
    grant = refresh_grant(_oauth_connection(server))
    assert grant is not None
    assert fetch_access_token(grant) == "ya29.issued-only-here-5e0c"
    assert redact("token ya29.issued-only-here-5e0c expired") == "token *** expired"


def test_without_token_uri_the_grant_goes_to_google():
    extra = {"client_id": CLIENT_ID, "client_secret": "GOCSPX-x1y2z3", "refresh_token": "1//0abc"}
    grant = refresh_grant(SourceConnection("https://googleads.googleapis.com", None, extra=extra))
    assert grant is not None and grant.token_uri == "https://oauth2.googleapis.com/token"
    assert "GOCSPX-x1y2z3" not in repr(grant) and "1//0abc" not in repr(grant)


def test_without_refresh_token_the_password_is_the_bearer_and_nothing_is_exchanged(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    server.script(STREAM_PATH, [_json_reply(200, [])])
    _extract(tmp_path, _client(server, clock))
    (sent,) = server.requests
    assert sent.headers["Authorization"] == f"Bearer {OAUTH_TOKEN}"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"client_id": ""}, "extra client_id"),
        ({"client_secret": "   "}, "extra client_secret"),
        ({"refresh_token": None}, "extra refresh_token"),
        ({"token_uri": "oauth2.googleapis.com/token"}, "extra token_uri"),
    ],
)
def test_an_incomplete_oauth_extra_is_refused_before_any_request(
    server: ScriptedServer, extra: dict[str, Any], named: str
):
    conn = _oauth_connection(server, **extra)
    with pytest.raises(ValueError, match=named) as raised:
        make_client(conn, login_customer_id=None)
    for secret in ("GOCSPX-scripted-client-secret", "1//0scripted-refresh-token"):
        assert secret not in str(raised.value)
    assert server.requests == []


def test_a_connection_without_any_credentials_is_refused(server: ScriptedServer):
    with pytest.raises(ValueError, match="refresh_token, client_id and client_secret"):
        make_client(SourceConnection(server.url, None), login_customer_id=None)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (_json_reply(200, {"token_type": "Bearer", "expires_in": 3599}), "without an access_token"),
        (Reply(200, "<html>ya29.in-an-html-page-0001</html>"), "without an access_token"),
        (
            _json_reply(200, {"access_token": "ya29.of-another-type-0001", "token_type": "MAC"}),
            "of type 'MAC', not Bearer",
        ),
    ],
)
def test_a_token_answer_that_is_not_a_bearer_token_fails_without_showing_it(
    server: ScriptedServer, answer: Reply, problem: str
):
    server.script(TOKEN_PATH, [answer])
    with pytest.raises(SourceResponseError, match=problem) as raised:
        make_client(_oauth_connection(server), login_customer_id=None)
    assert "ya29." not in str(raised.value)
    assert len(server.requests) == 1


def test_an_oauth_error_without_description_still_names_the_error(server: ScriptedServer):
    server.script(TOKEN_PATH, [_json_reply(400, {"error": "invalid_scope"})])
    with pytest.raises(SourceAuthError, match=r"HTTP 400: invalid_scope$") as raised:
        make_client(_oauth_connection(server), login_customer_id=None)
    assert raised.value.status == 400 and len(server.requests) == 1


def test_secrets_a_token_endpoint_or_the_api_echoes_are_masked(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    # Registered by no other test, so only this flow's registration can mask them.
    client_secret = "GOCSPX-echoed-client-secret-7d2e"
    refresh_token = "1//0echoed-refresh-token-c41a"
    access_token = "ya29.echoed-access-token-93bf"

    def echo_the_form(received: Received) -> Reply:
        form = parse_qs(received.body.decode())
        echoed = f"{form['refresh_token'][0]} of {form['client_secret'][0]} was revoked"
        return _json_reply(400, {"error": "invalid_grant", "error_description": echoed})

    def echo_the_bearer(received: Received) -> Reply:
        seen = received.headers["Authorization"].removeprefix("Bearer ")
        error = {"code": 401, "message": f"{seen} has expired", "status": "UNAUTHENTICATED"}
        return _json_reply(401, [{"error": error}])

    caplog.set_level(logging.DEBUG)
    conn = _oauth_connection(server, client_secret=client_secret, refresh_token=refresh_token)
    server.route(TOKEN_PATH, echo_the_form)
    with pytest.raises(SourceAuthError) as revoked:
        make_client(conn, login_customer_id=None, sleep=clock.sleep)
    assert "invalid_grant (*** of *** was revoked)" in str(revoked.value)
    server.script(TOKEN_PATH, [_issued(access_token)])
    server.route(STREAM_PATH, echo_the_bearer)
    with pytest.raises(SourceAuthError) as expired:
        _extract(tmp_path, make_client(conn, login_customer_id=None, sleep=clock.sleep))
    assert "*** has expired" in str(expired.value)
    for secret in (client_secret, refresh_token, access_token):
        for text in (str(revoked.value), str(expired.value), caplog.text):
            assert secret not in text
