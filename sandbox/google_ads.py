"""Google Ads API imitation: `googleAds:searchStream` over REST, for one customer.

Speaks the wire format of shared/API_NOTES.md and Google's REST docs: `POST
/{API_VERSION}/customers/{id}/googleAds:searchStream` with `{"query": GAQL}` answers one JSON
array of batches `{"results", "fieldMask", "requestId"}` with lowerCamelCase keys, int64
values as strings and every selected metric present (zeros included: metrics are proto3
`optional` fields). It implements two queries — the customer's id, currency and time zone,
and campaign x day statistics over a `segments.date BETWEEN` range — and refuses any other
GAQL with the API's query error rather than ignoring what it does not understand.

Errors have Google's shape, `{"error": {"code", "message", "status", "details":
[GoogleAdsFailure]}}`, wrapped in an array as searchStream sends them. Injected faults
(`RunningServer.inject`/`schedule`): 429 answers RESOURCE_EXHAUSTED with a quota error whose
`retryDelay` is `QUOTA_RETRY_DELAY_SECONDS`; 500 INTERNAL; 503 UNAVAILABLE; `Fault.TRUNCATE`
cuts the array in the middle. Rows are read from the dataset at each request, so a hook
(`RunningServer.on_request`) that changes `dataset.google_ads_stats` restates them.

The OAuth token endpoint lives on the same server at `TOKEN_PATH` (a client sets its
`token_uri` to `{url}/token`): as Google's `https://oauth2.googleapis.com/token` does, it
answers a form-encoded refresh-token grant with the configured client id, client secret and
refresh token with `{"access_token", "expires_in", "scope", "token_type": "Bearer"}`, the
access token being the one the API accepts; anything else with Google's OAuth errors:
401 `invalid_client` for an unknown client or a wrong secret, 400 `invalid_grant` for any
other refresh token, 400 `invalid_request` / `unsupported_grant_type` for a malformed grant.
Faults injected under `TOKEN_PATH` answer with the API's error shape.

Unverified details: the rateScope/rateName of a short-term quota error, the wording of the
401 messages, and whether a query without rows answers one batch without `results` (served
here) or an empty array; on the token endpoint, the order Google checks a grant in and the
wording of invalid_request (Google answers a malformed refresh token "Bad Request" where the
sandbox, knowing only one token, says every other token has expired or was revoked). Client
authentication by HTTP Basic, which Google also takes, is not implemented.
"""

import hashlib
import itertools
import json
import re
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from email.message import Message
from urllib.parse import parse_qs

from sandbox.generator import GOOGLE_ADS_ACCOUNT, Dataset, Json
from sandbox.server import Request, Response, RunningServer, json_response

API_VERSION = "v26"
TOKEN_PATH = "/token"
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
ACCESS_TOKEN_SECONDS = 3599  # Google's tokens last an hour, announced a second short
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
OAUTH_CONTENT_TYPE = "application/json; charset=utf-8"
NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}
STREAM_PATH = re.compile(rf"/{API_VERSION}/customers/([^/]+)/googleAds:searchStream")
CONTENT_TYPE = "application/json; charset=UTF-8"
FAILURE_TYPE = f"type.googleapis.com/google.ads.googleads.{API_VERSION}.errors.GoogleAdsFailure"
QUOTA_RETRY_DELAY_SECONDS = 30
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
PERMISSION_DENIED_MESSAGE = (
    "User doesn't have permission to access customer. Note: If you're accessing a client "
    "customer, the manager's customer id must be set in the 'login-customer-id' header. See "
    "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid"
)
OAUTH_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)

# GAQL field -> (resource key, field key) of the GoogleAdsRow, per FROM resource.
CUSTOMER_FIELDS = {
    "customer.id": ("customer", "id"),
    "customer.currency_code": ("customer", "currencyCode"),
    "customer.time_zone": ("customer", "timeZone"),
    "customer.descriptive_name": ("customer", "descriptiveName"),
}
CAMPAIGN_FIELDS = {
    "segments.date": ("segments", "date"),
    "campaign.id": ("campaign", "id"),
    "campaign.name": ("campaign", "name"),
    "metrics.cost_micros": ("metrics", "costMicros"),
    "metrics.clicks": ("metrics", "clicks"),
    "metrics.impressions": ("metrics", "impressions"),
}
_QUERY = re.compile(
    r"\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>\w+)(?:\s+WHERE\s+(?P<where>.+?))?\s*",
    re.IGNORECASE | re.DOTALL,
)
_DATE_RANGE = re.compile(
    r"segments\.date\s+BETWEEN\s+'(\d{4}-\d{2}-\d{2})'\s+AND\s+'(\d{4}-\d{2}-\d{2})'",
    re.IGNORECASE,
)
_UNSUPPORTED_CLAUSE = re.compile(r"\b(ORDER\s+BY|LIMIT|PARAMETERS)\b", re.IGNORECASE)


def start_google_ads(
    dataset: Dataset,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = "sandbox-token",
    developer_token: str | None = "sandbox-developer-token",
    customer_id: str = GOOGLE_ADS_ACCOUNT.account_id,
    login_customer_id: str | None = None,
    batch_size: int = 10_000,
    client_id: str = "sandbox-client-id.apps.googleusercontent.com",
    client_secret: str = "sandbox-client-secret",
    refresh_token: str = "sandbox-refresh-token",
) -> RunningServer:
    """Serve `dataset.google_ads_stats` for `customer_id`; port 0 picks a free port.

    `token` is the access token the API accepts, issued by `TOKEN_PATH` for `refresh_token`
    to the OAuth client `client_id` / `client_secret`. `developer_token=None` ignores the
    header, as the API has since the token's sunset on 2026-09-09; a value requires it, as
    before. With `login_customer_id` the customer is reached only through that manager
    account (the `login-customer-id` header).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    api = GoogleAdsApi(
        dataset,
        _Credentials(f"Bearer {token}", developer_token, customer_id, login_customer_id),
        batch_size,
        _OAuthClient(client_id, client_secret, refresh_token, access_token=token),
    )
    return RunningServer(api, host, port)


class _ApiError(Exception):
    """A refusal: the HTTP code and the GoogleAdsErrors of its GoogleAdsFailure."""

    def __init__(self, code: int, message: str, errors: list[Json] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or []


def _error(code: int, kind: str, name: str, message: str) -> _ApiError:
    return _ApiError(code, _top_message(code), [{"errorCode": {kind: name}, "message": message}])


def _top_message(code: int) -> str:
    return {
        400: "Request contains an invalid argument.",
        401: "The request does not have valid authentication credentials.",
        403: "The caller does not have permission",
        429: "Resource has been exhausted (e.g. check quota).",
        500: "Internal error encountered.",
        503: "The service is currently unavailable.",
    }.get(code, "The request failed.")


def _query_error(name: str, message: str) -> _ApiError:
    return _error(400, "queryError", name, message)


@dataclass(frozen=True)
class _Credentials:
    authorization: str
    developer_token: str | None
    customer_id: str
    login_customer_id: str | None


@dataclass(frozen=True)
class _OAuthClient:
    """The one OAuth client the token endpoint knows, and the tokens it issued."""

    client_id: str
    client_secret: str
    refresh_token: str
    access_token: str


class _OAuthError(Exception):
    """A refused grant: the HTTP status, the OAuth error code and its description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass(frozen=True)
class _Query:
    resource: str
    fields: tuple[str, ...]
    date_from: str = ""  # ISO dates compare as text; only the campaign query has a range
    date_to: str = ""


class GoogleAdsApi:
    def __init__(
        self,
        dataset: Dataset,
        credentials: _Credentials,
        batch_size: int,
        oauth_client: _OAuthClient,
    ) -> None:
        self._dataset = dataset
        self._credentials = credentials
        self._batch_size = batch_size
        self._oauth_client = oauth_client
        self._request_numbers = itertools.count(1)

    def handle(self, request: Request) -> Response:
        if request.path == TOKEN_PATH and request.method == "POST":
            return _token_response(self._oauth_client, request)
        request_id = self._next_request_id()
        match = STREAM_PATH.fullmatch(request.path)
        if match is None or request.method != "POST":
            body = {"error": {"code": 404, "message": "Method not found.", "status": "NOT_FOUND"}}
            return json_response(404, body, CONTENT_TYPE)
        try:
            self._authorize(request.headers, match.group(1))
            query = _read_query(request.body)
            rows = self._rows(query)
        except _ApiError as error:
            return _error_response(error, request_id)
        return json_response(200, self._batches(rows, query, request_id), CONTENT_TYPE)

    def error(self, status: int, detail: str) -> Response:
        request_id = self._next_request_id()
        if status == 429:
            delay = QUOTA_RETRY_DELAY_SECONDS
            quota = {
                "errorCode": {"quotaError": "RESOURCE_EXHAUSTED"},
                "message": f"Too many requests. Retry in {delay} seconds.",
                "details": {
                    "quotaErrorDetails": {
                        "rateScope": "ACCOUNT",
                        "rateName": "Requests per customer",
                        "retryDelay": f"{delay}s",
                    }
                },
            }
            return _error_response(_ApiError(429, _top_message(429), [quota]), request_id)
        if status == 500:
            error = _error(
                500, "internalError", "INTERNAL_ERROR", "An internal error has occurred."
            )
            return _error_response(error, request_id)
        return _error_response(_ApiError(status, f"{_top_message(status)} ({detail})"), request_id)

    def _next_request_id(self) -> str:
        digest = hashlib.sha256(f"sandbox-{next(self._request_numbers)}".encode()).digest()
        return urlsafe_b64encode(digest[:16]).decode().rstrip("=")  # 22 characters, as Google's

    def _authorize(self, headers: Message, path_customer_id: str) -> None:
        expected = self._credentials
        authorization = headers.get("Authorization")
        if authorization != expected.authorization:
            missing = authorization is None
            problem = "is missing required" if missing else "had invalid"
            raise _ApiError(401, f"Request {problem} authentication credentials. {OAUTH_HELP}")
        developer_token = headers.get("developer-token")
        if expected.developer_token is not None and developer_token != expected.developer_token:
            raise _error(
                401,
                "authenticationError",
                "DEVELOPER_TOKEN_INVALID",
                "The developer token is not valid.",
            )
        login = headers.get("login-customer-id")
        if login is not None and not login.isdigit():
            raise _error(
                400, "headerError", "INVALID_LOGIN_CUSTOMER_ID", "The login customer ID is invalid."
            )
        if not path_customer_id.isdigit():
            raise _error(400, "requestError", "INVALID_CUSTOMER_ID", "Customer ID is invalid.")
        if path_customer_id != expected.customer_id or login != expected.login_customer_id:
            raise _error(
                403, "authorizationError", "USER_PERMISSION_DENIED", PERMISSION_DENIED_MESSAGE
            )

    def _rows(self, query: _Query) -> list[Json]:
        customer_id = self._credentials.customer_id
        if query.resource == "customer":
            customer = {
                "resourceName": f"customers/{customer_id}",
                "id": customer_id,
                "currencyCode": GOOGLE_ADS_ACCOUNT.currency,
                "timeZone": GOOGLE_ADS_ACCOUNT.time_zone,
                "descriptiveName": GOOGLE_ADS_ACCOUNT.name,
            }
            return [_select({"customer": customer}, query.fields, CUSTOMER_FIELDS)]
        return [
            _select(_campaign_row(stat, customer_id), query.fields, CAMPAIGN_FIELDS)
            for stat in self._dataset.google_ads_stats
            if query.date_from <= stat["Date"] <= query.date_to
        ]

    def _batches(self, rows: list[Json], query: _Query, request_id: str) -> list[Json]:
        """The stream: batches of at most batch_size rows; a query without rows still sends
        one batch, whose empty `results` proto3 JSON leaves out."""
        mapping = CUSTOMER_FIELDS if query.resource == "customer" else CAMPAIGN_FIELDS
        mask = ",".join(".".join(mapping[field]) for field in query.fields)
        envelope = {"fieldMask": mask, "requestId": request_id}
        if not rows:
            return [envelope]
        size = self._batch_size
        return [{"results": rows[i : i + size], **envelope} for i in range(0, len(rows), size)]


def _campaign_row(stat: Json, customer_id: str) -> Json:
    """A statistics row of the dataset as a GoogleAdsRow: int64 values as strings."""
    campaign_id = str(stat["CampaignId"])
    return {
        "campaign": {
            "resourceName": f"customers/{customer_id}/campaigns/{campaign_id}",
            "id": campaign_id,
            "name": stat["CampaignName"],
        },
        "metrics": {
            "clicks": str(stat["Clicks"]),
            "costMicros": str(stat["Cost"]),
            "impressions": str(stat["Impressions"]),
        },
        "segments": {"date": stat["Date"]},
    }


def _select(row: Json, fields: tuple[str, ...], mapping: dict[str, tuple[str, str]]) -> Json:
    """The row with only the selected fields, and the main resource's resourceName."""
    selected: Json = {}
    for field in fields:
        resource, key = mapping[field]
        selected.setdefault(resource, {})[key] = row[resource][key]
    for resource, values in row.items():
        if "resourceName" in values and resource in selected:
            selected[resource]["resourceName"] = values["resourceName"]
    return selected


def _error_response(error: _ApiError, request_id: str) -> Response:
    status = STATUS_NAMES.get(error.code, "UNKNOWN")
    body: Json = {"code": error.code, "message": error.message, "status": status}
    if error.errors:
        failure = {"@type": FAILURE_TYPE, "errors": error.errors, "requestId": request_id}
        body["details"] = [failure]
    return json_response(error.code, [{"error": body}], CONTENT_TYPE)


# OAuth token endpoint ------------------------------------------------------------------------


def _token_response(client: _OAuthClient, request: Request) -> Response:
    try:
        _check_grant(client, _read_form(request))
    except _OAuthError as refused:
        body = {"error": refused.error, "error_description": refused.description}
        return json_response(refused.status, body, OAUTH_CONTENT_TYPE, NO_STORE)
    issued = {
        "access_token": client.access_token,
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": ADWORDS_SCOPE,
        "token_type": "Bearer",
    }
    return json_response(200, issued, OAUTH_CONTENT_TYPE, NO_STORE)


def _read_form(request: Request) -> dict[str, str]:
    """The form fields (first value of each); a body of another type has none."""
    content_type = request.headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() != FORM_CONTENT_TYPE:
        return {}
    try:
        fields = parse_qs(request.body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in fields.items()}


def _check_grant(client: _OAuthClient, form: dict[str, str]) -> None:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _OAuthError(400, "invalid_request", "Required parameter is missing: grant_type")
    if grant_type != "refresh_token":
        raise _OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    if not form.get("client_id"):
        raise _OAuthError(400, "invalid_request", "Could not determine client ID from request.")
    if form["client_id"] != client.client_id:
        raise _OAuthError(401, "invalid_client", "The OAuth client was not found.")
    if form.get("client_secret") != client.client_secret:
        raise _OAuthError(401, "invalid_client", "Unauthorized")
    if not form.get("refresh_token"):
        raise _OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
    if form["refresh_token"] != client.refresh_token:
        raise _OAuthError(400, "invalid_grant", "Token has been expired or revoked.")


# GAQL ---------------------------------------------------------------------------------------


def _read_query(body: bytes) -> _Query:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _ApiError(400, "Invalid JSON payload received.") from None
    if not isinstance(document, dict):
        raise _ApiError(400, "Invalid JSON payload received. Expected an object.")
    if unknown := sorted(document.keys() - {"query"}):
        raise _ApiError(400, f'Invalid JSON payload received. Unknown name "{unknown[0]}".')
    query = document.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _error(400, "requestError", "REQUIRED_FIELD_MISSING", "Required field is missing")
    return _parse_gaql(query)


def _parse_gaql(query: str) -> _Query:
    if clause := _UNSUPPORTED_CLAUSE.search(query):
        raise _query_error("QUERY_ERROR", f"The sandbox does not implement {clause.group(1)}.")
    match = _QUERY.fullmatch(query)
    if match is None:
        raise _query_error("QUERY_ERROR", f"Error in query: {query[:80]!r}.")
    resource = match.group("resource")
    mapping = {"customer": CUSTOMER_FIELDS, "campaign": CAMPAIGN_FIELDS}.get(resource)
    if mapping is None:
        raise _query_error(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", f"The sandbox serves no resource {resource!r}."
        )
    fields = tuple(field.strip() for field in match.group("fields").split(","))
    if unknown := [field for field in fields if field not in mapping]:
        raise _query_error("BAD_FIELD_NAME", f"Unrecognized field in the query: {unknown[0]!r}.")
    where = match.group("where")
    if resource == "customer":
        if where is not None:
            raise _query_error("QUERY_ERROR", "The sandbox does not filter the customer.")
        return _Query(resource, fields)
    return _campaign_query(fields, where)


def _campaign_query(fields: tuple[str, ...], where: str | None) -> _Query:
    if where is None:
        raise _query_error(
            "EXPECTED_FILTERS_ON_DATE_RANGE", "Missing filters on date related fields."
        )
    dates = _DATE_RANGE.fullmatch(where.strip())
    if dates is None:
        raise _query_error(
            "QUERY_ERROR", f"The sandbox filters only on segments.date BETWEEN: {where!r}."
        )
    date_from, date_to = dates.groups()
    if date_from > date_to:
        raise _query_error(
            "DATE_RANGE_TOO_NARROW", "Filters on date have a start date after the end date."
        )
    return _Query("campaign", fields, date_from, date_to)
