"""The Google Ads sandbox speaks googleAds:searchStream as shared/API_NOTES.md and Google's
REST docs describe it; checked with plain `requests`, expected values from the dataset."""

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox import Dataset, Fault, RunningServer
from sandbox.generator import GOOGLE_ADS_ACCOUNT
from sandbox.google_ads import start_google_ads

DEVELOPER_TOKEN = "sandbox-dev-token-for-tests"
CLIENT_ID = "5555-sandbox-tests.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-sandbox-tests-secret"
REFRESH_TOKEN = "1//0sandbox-tests-refresh-token"
CUSTOMER = GOOGLE_ADS_ACCOUNT.account_id
PATH = f"/v26/customers/{CUSTOMER}/googleAds:searchStream"
FIELDS = (
    "segments.date, campaign.id, campaign.name, metrics.cost_micros, metrics.clicks, "
    "metrics.impressions"
)
MARCH = "segments.date BETWEEN '2026-03-01' AND '2026-03-31'"
CAMPAIGN_QUERY = f"SELECT {FIELDS} FROM campaign WHERE {MARCH}"


@pytest.fixture
def google(small: Dataset, token: str) -> Iterator[RunningServer]:
    server = start_google_ads(
        small,
        token=token,
        developer_token=DEVELOPER_TOKEN,
        batch_size=40,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
    )
    yield server
    server.stop()


def _post(
    server: RunningServer,
    http: requests.Session,
    query: Any,
    *,
    path: str = PATH,
    **headers: str,
) -> requests.Response:
    headers = {"developer-token": DEVELOPER_TOKEN, **headers}
    return http.post(f"{server.url}{path}", json={"query": query}, headers=headers, timeout=5)


def _results(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [result for batch in response.json() for result in batch.get("results", [])]


def _error(response: requests.Response, code: int, status: str) -> dict[str, Any]:
    """The error object, checked for Google's envelope: searchStream wraps it in an array."""
    assert response.status_code == code, response.text
    (wrapper,) = response.json()
    error = wrapper["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert isinstance(error["message"], str) and error["message"]
    return error


def _failure_codes(error: dict[str, Any]) -> list[dict[str, str]]:
    (failure,) = error["details"]
    assert failure["@type"].endswith("google.ads.googleads.v26.errors.GoogleAdsFailure")
    assert len(failure["requestId"]) == 22
    return [item["errorCode"] for item in failure["errors"]]


def test_campaign_rows_of_the_range_come_in_batches_as_wire_strings(
    google: RunningServer, http: requests.Session, small: Dataset
) -> None:
    response = _post(google, http, CAMPAIGN_QUERY)
    assert response.headers["Content-Type"].startswith("application/json")
    batches = response.json()
    expected = [s for s in small.google_ads_stats if "2026-03-01" <= s["Date"] <= "2026-03-31"]
    assert [len(batch["results"]) for batch in batches[:-1]] == [40] * (len(batches) - 1)
    assert sum(len(batch["results"]) for batch in batches) == len(expected) > 40
    assert {batch["fieldMask"] for batch in batches} == {
        "segments.date,campaign.id,campaign.name,metrics.costMicros,metrics.clicks,"
        "metrics.impressions"
    }
    assert len({batch["requestId"] for batch in batches}) == 1
    results = _results(response)
    for stat, result in zip(expected, results, strict=True):
        assert result == {
            "segments": {"date": stat["Date"]},
            "campaign": {
                "resourceName": f"customers/{CUSTOMER}/campaigns/{stat['CampaignId']}",
                "id": str(stat["CampaignId"]),
                "name": stat["CampaignName"],
            },
            "metrics": {
                "costMicros": str(stat["Cost"]),
                "clicks": str(stat["Clicks"]),
                "impressions": str(stat["Impressions"]),
            },
        }


def test_only_the_selected_fields_are_returned(
    google: RunningServer, http: requests.Session
) -> None:
    query = f"SELECT campaign.id, metrics.clicks FROM campaign WHERE {MARCH}"
    result = _results(_post(google, http, query))[0]
    assert set(result) == {"campaign", "metrics"}
    assert set(result["campaign"]) == {"id", "resourceName"}
    assert set(result["metrics"]) == {"clicks"}


def test_the_customer_query_names_currency_and_time_zone(
    google: RunningServer, http: requests.Session
) -> None:
    query = "SELECT customer.id, customer.currency_code, customer.time_zone FROM customer"
    (result,) = _results(_post(google, http, query))
    assert result == {
        "customer": {
            "resourceName": f"customers/{CUSTOMER}",
            "id": CUSTOMER,
            "currencyCode": "USD",
            "timeZone": GOOGLE_ADS_ACCOUNT.time_zone,
        }
    }


def test_a_range_without_rows_sends_one_batch_without_results(
    google: RunningServer, http: requests.Session
) -> None:
    query = (
        f"SELECT {FIELDS} FROM campaign WHERE segments.date BETWEEN '2030-01-01' AND '2030-01-02'"
    )
    (batch,) = _post(google, http, query).json()
    assert "results" not in batch and batch["requestId"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (f"SELECT {FIELDS} FROM ad_group WHERE {MARCH}", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        (f"SELECT metrics.cost FROM campaign WHERE {MARCH}", "BAD_FIELD_NAME"),
        (f"SELECT {FIELDS} FROM campaign", "EXPECTED_FILTERS_ON_DATE_RANGE"),
        (f"SELECT {FIELDS} FROM campaign WHERE segments.date DURING LAST_7_DAYS", "QUERY_ERROR"),
        (f"SELECT {FIELDS} FROM campaign WHERE {MARCH} ORDER BY campaign.id", "QUERY_ERROR"),
        (f"SELECT {FIELDS} FROM campaign WHERE {MARCH} LIMIT 5", "QUERY_ERROR"),
        (
            f"SELECT {FIELDS} FROM campaign WHERE segments.date BETWEEN '2026-03-02' AND "
            "'2026-03-01'",
            "DATE_RANGE_TOO_NARROW",
        ),
        ("SELECT customer.id FROM customer WHERE customer.id = 1", "QUERY_ERROR"),
        ("DELETE everything", "QUERY_ERROR"),
    ],
)
def test_gaql_it_does_not_implement_is_refused_with_a_query_error(
    google: RunningServer, http: requests.Session, query: str, code: str
) -> None:
    error = _error(_post(google, http, query), 400, "INVALID_ARGUMENT")
    assert _failure_codes(error) == [{"queryError": code}]


def test_malformed_bodies_are_invalid_arguments(
    google: RunningServer, http: requests.Session
) -> None:
    url = f"{google.url}{PATH}"
    headers = {"developer-token": DEVELOPER_TOKEN}
    not_json = http.post(url, data=b"{", headers=headers, timeout=5)
    _error(not_json, 400, "INVALID_ARGUMENT")
    extra = http.post(
        url, json={"query": CAMPAIGN_QUERY, "pageSize": 5}, headers=headers, timeout=5
    )
    assert "Unknown name" in _error(extra, 400, "INVALID_ARGUMENT")["message"]
    assert _failure_codes(_error(_post(google, http, None), 400, "INVALID_ARGUMENT")) == [
        {"requestError": "REQUIRED_FIELD_MISSING"}
    ]


def test_credentials_are_checked_in_order(
    google: RunningServer, http: requests.Session, token: str
) -> None:
    no_bearer = requests.post(f"{google.url}{PATH}", json={"query": CAMPAIGN_QUERY}, timeout=5)
    assert "missing required" in _error(no_bearer, 401, "UNAUTHENTICATED")["message"]
    wrong = _post(google, http, CAMPAIGN_QUERY, Authorization="Bearer not-it")
    assert "invalid" in _error(wrong, 401, "UNAUTHENTICATED")["message"]
    bad_developer = _post(google, http, CAMPAIGN_QUERY, **{"developer-token": "other"})
    error = _error(bad_developer, 401, "UNAUTHENTICATED")
    assert _failure_codes(error) == [{"authenticationError": "DEVELOPER_TOKEN_INVALID"}]


def test_a_sandbox_without_developer_token_ignores_the_header(
    small: Dataset, http: requests.Session, token: str
) -> None:
    with start_google_ads(small, token=token, developer_token=None) as server:
        assert _results(_post(server, http, CAMPAIGN_QUERY, **{"developer-token": "anything"}))
        no_header = http.post(f"{server.url}{PATH}", json={"query": CAMPAIGN_QUERY}, timeout=5)
        assert _results(no_header)


def test_customers_are_reached_only_as_configured(
    small: Dataset, http: requests.Session, token: str
) -> None:
    manager = "1112223334"
    with start_google_ads(
        small, token=token, developer_token=DEVELOPER_TOKEN, login_customer_id=manager
    ) as server:
        denied = _error(_post(server, http, CAMPAIGN_QUERY), 403, "PERMISSION_DENIED")
        assert _failure_codes(denied) == [{"authorizationError": "USER_PERMISSION_DENIED"}]
        assert "login-customer-id" in denied["details"][0]["errors"][0]["message"]
        assert _results(_post(server, http, CAMPAIGN_QUERY, **{"login-customer-id": manager}))
        dashed = _post(server, http, CAMPAIGN_QUERY, **{"login-customer-id": "111-222-3334"})
        assert _failure_codes(_error(dashed, 400, "INVALID_ARGUMENT")) == [
            {"headerError": "INVALID_LOGIN_CUSTOMER_ID"}
        ]
        other = _post(server, http, CAMPAIGN_QUERY, path=PATH.replace(CUSTOMER, "9998887776"))
        _error(other, 403, "PERMISSION_DENIED")
        dashes = _post(server, http, CAMPAIGN_QUERY, path=PATH.replace(CUSTOMER, "456-123-7890"))
        assert _failure_codes(_error(dashes, 400, "INVALID_ARGUMENT")) == [
            {"requestError": "INVALID_CUSTOMER_ID"}
        ]


def test_unknown_paths_and_versions_are_not_found(
    google: RunningServer, http: requests.Session
) -> None:
    old_version = _post(google, http, CAMPAIGN_QUERY, path=PATH.replace("/v26/", "/v21/"))
    assert old_version.status_code == 404
    assert old_version.json()["error"]["status"] == "NOT_FOUND"
    search = _post(google, http, CAMPAIGN_QUERY, path=PATH.replace("searchStream", "search"))
    assert search.status_code == 404


def test_injected_faults_answer_google_error_shapes(
    google: RunningServer, http: requests.Session
) -> None:
    google.inject(PATH, [429, 500, 503])
    quota = _error(_post(google, http, CAMPAIGN_QUERY), 429, "RESOURCE_EXHAUSTED")
    (item,) = quota["details"][0]["errors"]
    assert item["errorCode"] == {"quotaError": "RESOURCE_EXHAUSTED"}
    assert item["details"]["quotaErrorDetails"]["retryDelay"] == "30s"
    internal = _error(_post(google, http, CAMPAIGN_QUERY), 500, "INTERNAL")
    assert _failure_codes(internal) == [{"internalError": "INTERNAL_ERROR"}]
    _error(_post(google, http, CAMPAIGN_QUERY), 503, "UNAVAILABLE")
    assert _results(_post(google, http, CAMPAIGN_QUERY))  # the faults are used up


def test_truncate_breaks_the_array_off_mid_body(
    google: RunningServer, http: requests.Session
) -> None:
    google.inject(PATH, [Fault.TRUNCATE])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _post(google, http, CAMPAIGN_QUERY)
    assert _results(_post(google, http, CAMPAIGN_QUERY))


def test_a_hook_restates_a_row_for_the_next_request(
    google: RunningServer, http: requests.Session, small: Dataset
) -> None:
    stat = next(s for s in small.google_ads_stats if s["Date"] == "2026-03-10")
    before = stat["Cost"]

    def restate() -> None:
        stat["Cost"] = before + 1_230_000

    google.on_request(PATH, 2, restate)
    try:
        first, second = (_results(_post(google, http, CAMPAIGN_QUERY)) for _ in range(2))
    finally:
        stat["Cost"] = before  # the dataset is shared by the session

    def cost(results: list[dict[str, Any]]) -> str:
        key = (stat["Date"], str(stat["CampaignId"]))
        by_key = {(r["segments"]["date"], r["campaign"]["id"]): r for r in results}
        return by_key[key]["metrics"]["costMicros"]

    assert (cost(first), cost(second)) == (str(before), str(before + 1_230_000))


# --- the OAuth token endpoint -------------------------------------------------------------

GRANT = {
    "grant_type": "refresh_token",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "refresh_token": REFRESH_TOKEN,
}


def _exchange(server: RunningServer, form: dict[str, str]) -> requests.Response:
    """A token request as Google documents it: a form, no Authorization header."""
    return requests.post(f"{server.url}/token", data=form, timeout=5)


def test_the_refresh_grant_is_exchanged_for_the_access_token_the_api_takes(
    google: RunningServer, token: str
) -> None:
    response = _exchange(google, GRANT)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert "no-store" in response.headers["Cache-Control"]
    assert response.json() == {
        "access_token": token,
        "expires_in": 3599,
        "scope": "https://www.googleapis.com/auth/adwords",
        "token_type": "Bearer",
    }
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    with requests.Session() as bare:  # without the fixture's bearer
        bare.headers.update(headers)
        assert _results(_post(google, bare, CAMPAIGN_QUERY))


@pytest.mark.parametrize(
    ("change", "status", "error", "description"),
    [
        ({"refresh_token": "1//0revoked"}, 400, "invalid_grant",
         "Token has been expired or revoked."),
        ({"client_secret": "GOCSPX-wrong"}, 401, "invalid_client", "Unauthorized"),
        ({"client_id": "other.apps.googleusercontent.com"}, 401, "invalid_client",
         "The OAuth client was not found."),
        ({"grant_type": ""}, 400, "invalid_request", "Required parameter is missing: grant_type"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type",
         "Invalid grant_type: authorization_code"),
        ({"refresh_token": ""}, 400, "invalid_request",
         "Missing required parameter: refresh_token"),
    ],
)  # fmt: skip
def test_a_refused_grant_answers_googles_oauth_error(
    google: RunningServer, change: dict[str, str], status: int, error: str, description: str
) -> None:
    response = _exchange(google, {**GRANT, **change})
    assert response.status_code == status
    assert response.json() == {"error": error, "error_description": description}


def test_a_grant_sent_as_json_is_not_read(google: RunningServer) -> None:
    response = requests.post(f"{google.url}/token", json=GRANT, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_the_token_endpoint_takes_injected_faults(google: RunningServer) -> None:
    google.inject("/token", [503])
    assert _exchange(google, GRANT).status_code == 503
    assert _exchange(google, GRANT).status_code == 200
