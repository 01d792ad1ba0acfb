"""The shared HTTP layer against a local scripted server, with a fake clock for all waits."""

from __future__ import annotations

import logging
import socket

import pytest
from extract_testkit import FakeClock, Reply, ScriptedServer

from extract.connection import SourceConnection
from extract.http import (
    HttpClient,
    Pacer,
    RetriesExhaustedError,
    RetryPolicy,
    SourceAuthError,
    SourceHttpError,
    get_logger,
    iter_lines,
    redact,
    register_secret,
)

TOKEN = "bearer-secret-123456"
QUERY_SECRET = "query-secret-abcdef"


def make_client(
    base_url: str,
    *,
    retry_sleeps: FakeClock,
    pacer: Pacer | None = None,
    max_attempts: int = 4,
    timeout: tuple[float, float] = (2.0, 5.0),
) -> HttpClient:
    return HttpClient(
        "amocrm",
        base_url=base_url,
        token=TOKEN,
        pacer=pacer or Pacer(1000, 1.0, clock=FakeClock().monotonic, sleep=FakeClock().sleep),
        retry=RetryPolicy(max_attempts=max_attempts, backoff_base_seconds=1.0),
        timeout=timeout,
        sleep=retry_sleeps.sleep,
        jitter=lambda: 0.0,
    )


def test_429_is_retried_after_the_retry_after_seconds(server: ScriptedServer, clock: FakeClock):
    server.script("/api", [Reply(429, headers={"Retry-After": "7"}), Reply(200, {"ok": True})])
    with make_client(server.url, retry_sleeps=clock) as client:
        response = client.request("GET", "/api")
    assert response.json() == {"ok": True}
    assert len(server.requests) == 2
    assert clock.sleeps == [7.0]


def test_5xx_is_retried_with_exponential_backoff(server: ScriptedServer, clock: FakeClock):
    server.script("/api", [Reply(500), Reply(502), Reply(503), Reply(200, b"done")])
    with make_client(server.url, retry_sleeps=clock) as client:
        response = client.request("GET", "/api")
    assert response.text == "done"
    # base 1 s doubling per attempt; jitter 0 takes the lower half of each range
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_backoff_jitter_stays_within_half_to_full_delay():
    policy = RetryPolicy(backoff_base_seconds=2.0, backoff_max_seconds=10.0)
    assert policy.backoff(3, 0.0) == 4.0
    assert policy.backoff(3, 0.999) == pytest.approx(7.996)
    assert policy.backoff(10, 0.999) <= 10.0


def test_gives_up_after_max_attempts_naming_source_and_redacted_url(
    server: ScriptedServer, clock: FakeClock
):
    server.script("/api/v4/leads", [Reply(503)])
    with (
        make_client(server.url, retry_sleeps=clock, max_attempts=3) as client,
        pytest.raises(RetriesExhaustedError) as raised,
    ):
        client.request("GET", "/api/v4/leads", params={"access_token": QUERY_SECRET, "page": 2})
    message = str(raised.value)
    assert len(server.requests) == 3
    assert "amocrm" in message and "after 3 attempts" in message and "HTTP 503" in message
    assert "/api/v4/leads?access_token=***&page=2" in message
    assert QUERY_SECRET not in message and TOKEN not in message
    assert raised.value.status == 503


def test_connection_errors_are_retried_then_reported(clock: FakeClock):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unreachable = f"http://127.0.0.1:{closed_port}"
    with (
        make_client(unreachable, retry_sleeps=clock, max_attempts=3) as client,
        pytest.raises(RetriesExhaustedError, match=r"amocrm: giving up .* ConnectionError"),
    ):
        client.request("GET", "/api")
    assert len(clock.sleeps) == 2


def test_read_timeout_is_retried(server: ScriptedServer, clock: FakeClock):
    server.script("/slow", [Reply(200, b"late", delay_seconds=0.5), Reply(200, b"quick")])
    with make_client(server.url, retry_sleeps=clock, timeout=(1.0, 0.1)) as client:
        response = client.request("GET", "/slow")
    assert response.text == "quick"
    assert len(clock.sleeps) == 1


def test_auth_failure_is_not_retried_and_hides_the_token(server: ScriptedServer, clock: FakeClock):
    echo = {"title": "Unauthorized", "detail": f"token Bearer {TOKEN} expired"}
    server.script("/api", [Reply(401, echo)])
    with (
        make_client(server.url, retry_sleeps=clock) as client,
        pytest.raises(SourceAuthError) as raised,
    ):
        client.request("GET", "/api")
    assert len(server.requests) == 1
    assert "HTTP 401" in str(raised.value) and "check the token" in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_retry_after_beyond_the_allowed_wait_fails_instead_of_stalling(
    server: ScriptedServer, clock: FakeClock
):
    server.script("/api", [Reply(429, headers={"Retry-After": "3600"})])
    with (
        make_client(server.url, retry_sleeps=clock) as client,
        pytest.raises(SourceHttpError, match="asks to wait 3600 s"),
    ):
        client.request("GET", "/api")
    assert clock.sleeps == []


def test_requests_are_paced_not_burst(server: ScriptedServer):
    pacing = FakeClock()
    server.script("/api", [Reply(200, b"{}")])
    pacer = Pacer(7, 1.0, clock=pacing.monotonic, sleep=pacing.sleep)
    with make_client(server.url, retry_sleeps=FakeClock(), pacer=pacer) as client:
        for _ in range(15):
            client.request("GET", "/api")
    assert len(server.requests) == 15
    # 15 requests at 7/s span at least 14 intervals of 1/7 s, and no two start closer
    assert pacing.now >= 2.0 - 1e-9
    assert len(pacing.sleeps) == 14 and min(pacing.sleeps) >= 1 / 7


def test_pacer_keeps_a_window_limit_and_does_not_wait_when_calls_are_slow():
    clock = FakeClock()
    pacer = Pacer(20, 10.0, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(21):
        pacer.wait()
    assert clock.now >= 10.0 - 1e-9  # the 21st request cannot start inside the first 10 s
    slow = FakeClock()
    pacer = Pacer(20, 10.0, clock=slow.monotonic, sleep=slow.sleep)
    for _ in range(5):
        pacer.wait()
        slow.now += 1.0  # each request itself takes longer than the interval
    assert slow.sleeps == []


def test_links_from_the_source_are_followed_on_the_configured_host(clock: FakeClock):
    with make_client("https://sub.amocrm.ru/", retry_sleeps=clock) as client:
        url = client.url_for("https://elsewhere.example/api/v4/leads?page=2&limit=250")
    assert url == "https://sub.amocrm.ru/api/v4/leads?page=2&limit=250"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def-ghi_123", "abc.def-ghi_123"),
        ("GET https://graph.example/v19/act_1/insights?after=x&access_token=EAAB1234", "EAAB1234"),
        ('{"access_token": "tok-98765", "expires_in": 3600}', "tok-98765"),
        ("POST https://portal.bitrix24.ru/rest/1/k9x8w7v6u5t4/crm.lead.list", "k9x8w7v6u5t4"),
    ],
)
def test_redact_masks_token_shaped_text(text: str, secret: str):
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_redact_masks_registered_secrets_plain_and_url_encoded():
    register_secret("p@ss/word+42")
    text = "failed with p@ss/word+42 in body and p%40ss%2Fword%2B42 in a URL"
    assert redact(text) == "failed with *** in body and *** in a URL"


def test_log_records_never_carry_secrets(server: ScriptedServer, clock: FakeClock, caplog):
    server.script("/api", [Reply(503), Reply(200)])
    caplog.set_level(logging.DEBUG)
    with make_client(server.url, retry_sleeps=clock) as client:
        client.request("GET", "/api", params={"access_token": QUERY_SECRET})
    logger = get_logger("extract.tests")
    logger.error(
        "webhook %s failed", "https://portal.bitrix24.ru/rest/7/w3bh00ks3cret/crm.deal.list"
    )
    try:
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        logger.exception("request failed")
    messages = [record.getMessage() for record in caplog.records]
    assert any("HTTP 503" in m and "/api?access_token=***" in m for m in messages)
    assert any("/rest/7/***/crm.deal.list" in m for m in messages)
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/api?access_token=***" in line for line in urllib3_lines)
    for secret in (TOKEN, QUERY_SECRET, "w3bh00ks3cret"):
        assert secret not in caplog.text


def test_connection_repr_shows_no_secret():
    conn = SourceConnection(
        "https://portal.bitrix24.ru/rest/1/hookcode123/", "tok-abcdef-123", {"page_size": 50}
    )
    shown = repr(conn)
    assert "tok-abcdef-123" not in shown and "hookcode123" not in shown
    assert "portal.bitrix24.ru" in shown and "page_size" in shown


def test_iter_lines_splits_on_newlines_across_chunk_boundaries():
    chunks = [b"Date\tCost\r", b"\n2024-01-01\t1", b"0\n\xd0\x9f", b"\xd0\xbe\n", b"tail"]
    assert list(iter_lines(chunks)) == [
        b"Date\tCost",
        b"2024-01-01\t10",
        "По".encode(),
        b"tail",
    ]
