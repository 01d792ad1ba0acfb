"""`python -m sandbox`: what users run to try funnelhouse without credentials."""

import signal
import subprocess
import sys

import pytest
import requests


def test_describe_summarises_the_reference_case() -> None:
    command = [sys.executable, "-m", "sandbox", "describe", "--seed", "3", "--leads", "400"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert "400 leads" in result.stdout
    rows = {line.split()[0] for line in result.stdout.splitlines()}
    assert {"private", "dealer", "developer"} <= rows
    assert "invalid phones" in result.stdout
    spend_lines = {line.split(":")[0] for line in result.stdout.splitlines() if "spent" in line}
    assert spend_lines == {"yandex_direct", "google_ads", "meta_ads"}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_announces_every_server_and_exits_cleanly_on_signal(
    stop_signal: signal.Signals, token: str
) -> None:
    command = [sys.executable, "-m", "sandbox", "serve", "--leads", "200", "--token", token]
    command += ["--amocrm-port", "0", "--yandex-port", "0", "--bitrix24-port", "0"]
    command += ["--hubspot-port", "0", "--google-ads-port", "0", "--meta-ads-port", "0"]
    command += ["--cbr-rates-port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(8)]
        assert lines[7] == "sandbox ready"
        urls = dict(line.split(" ", 1) for line in lines[:7])
        assert set(urls) == {
            "amocrm", "yandex_direct", "bitrix24", "hubspot", "google_ads", "meta_ads", "cbr_rates"
        }  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}
        pipelines = requests.get(
            f"{urls['amocrm']}/api/v4/leads/pipelines", headers=auth, timeout=5
        )
        assert pipelines.status_code == 200
        report = requests.post(
            f"{urls['yandex_direct']}/json/v5/reports",
            headers={**auth, "processingMode": "online"},
            json={"params": {}},
            timeout=5,
        )
        assert report.status_code == 400  # it answers, in the Reports API's own terms
        assert "error_code" in report.json()["error"]
        statuses = requests.post(f"{urls['bitrix24']}/rest/1/{token}/crm.status.list", timeout=5)
        assert statuses.json()["result"]  # the webhook code is the token
        stages = requests.get(f"{urls['hubspot']}/crm/v3/pipelines/deals", headers=auth, timeout=5)
        assert stages.json()["results"]
        rates = requests.get(
            f"{urls['cbr_rates']}/scripts/XML_daily.asp",
            params={"date_req": "02/03/2026"},
            timeout=5,
        )
        assert b"<ValCurs" in rates.content  # no token: a public feed
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
