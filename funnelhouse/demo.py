"""`make demo`: start the sandbox APIs, run the nightly DAG once through Airflow, print the result.

Usage: python -m funnelhouse.demo [--leads N] [--seed S]
"""

from __future__ import annotations

import argparse
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from funnelhouse import local_airflow
from funnelhouse.report import print_report
from funnelhouse.settings import PROJECT_ROOT, Paths

DEMO_LOGICAL_DATE = (
    "2026-07-01T00:00:00+00:00"  # 03:00 Moscow: the night after the sandbox's last day
)
SANDBOX_TOKEN = "sandbox-token"  # the sandbox's own fake token, not a secret
# Bitrix24 connections name the webhook's user as their login; the sandbox portal's is 1.
SANDBOX_LOGINS = {"bitrix24": "1"}
# Google Ads runs the refresh-token flow against the sandbox's token endpoint: its client
# and refresh token live in the connection's extra (Airflow masks keys naming a token or
# a secret) and the password stays empty; the values are the sandbox's own fakes.
GOOGLE_ADS_SANDBOX_GRANT = {
    "client_id": "sandbox-client-id.apps.googleusercontent.com",
    "client_secret": "sandbox-client-secret",
    "refresh_token": "sandbox-refresh-token",
    "developer_token": "sandbox-developer-token",
}
PUBLIC_SANDBOX_FEEDS = ("cbr_rates",)  # served without credentials, like the real one
log = logging.getLogger("funnelhouse.demo")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_sandbox(
    seed: int, leads: int, log_path: Path, token: str = SANDBOX_TOKEN
) -> Iterator[dict[str, int]]:
    """Start `python -m sandbox serve` on free ports and stop it on exit."""
    ports = {
        "amocrm": _free_port(),
        "yandex_direct": _free_port(),
        "bitrix24": _free_port(),
        "hubspot": _free_port(),
        "google_ads": _free_port(),
        "meta_ads": _free_port(),
        "cbr_rates": _free_port(),
    }
    command = [
        sys.executable, "-m", "sandbox", "serve", "--seed", str(seed), "--leads", str(leads),
        "--amocrm-port", str(ports["amocrm"]), "--yandex-port", str(ports["yandex_direct"]),
        "--bitrix24-port", str(ports["bitrix24"]), "--hubspot-port", str(ports["hubspot"]),
        "--google-ads-port", str(ports["google_ads"]), "--meta-ads-port", str(ports["meta_ads"]),
        "--cbr-rates-port", str(ports["cbr_rates"]), "--token", token,
    ]  # fmt: skip
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(process, log_path)
            yield ports
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_ready(
    process: subprocess.Popen[bytes], log_path: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"sandbox ready" in log_path.read_bytes():
            return
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {process.returncode}; see {log_path}")
        time.sleep(0.2)
    raise RuntimeError(f"the sandbox did not start within {timeout:.0f}s; see {log_path}")


def sandbox_connections(
    ports: dict[str, int], token: str = SANDBOX_TOKEN
) -> dict[str, dict[str, object]]:
    """The Airflow Connections of the sandbox's sources, as a real deployment has them."""
    connections: dict[str, dict[str, object]] = {}
    for source, port in ports.items():
        fields: dict[str, object] = {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": port,
            "schema": "http",
        }
        if source == "google_ads":
            token_uri = f"http://127.0.0.1:{port}/token"
            fields["extra"] = {**GOOGLE_ADS_SANDBOX_GRANT, "token_uri": token_uri}
        elif source not in PUBLIC_SANDBOX_FEEDS:
            fields["password"] = token
        if source in SANDBOX_LOGINS:
            fields["login"] = SANDBOX_LOGINS[source]
        connections[f"funnelhouse_{source}"] = fields
    return connections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--leads", type=int, default=3000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    paths = Paths.from_env()
    logs = PROJECT_ROOT / "logs"
    logs.mkdir(exist_ok=True)
    started = time.monotonic()
    log.info("starting the sandbox APIs (seed %s, %s leads)", args.seed, args.leads)
    with running_sandbox(args.seed, args.leads, logs / "sandbox.log") as ports:
        env = local_airflow.airflow_environment(
            PROJECT_ROOT / ".airflow", sandbox_connections(ports)
        )
        env.update(paths.dbt_env())
        local_airflow.prepare(env)
        log.info("running DAG funnel_nightly through Airflow")
        try:
            local_airflow.run_dag_once(
                "funnel_nightly", DEMO_LOGICAL_DATE, env, logs / "demo-dag.log"
            )
            failure = None
        except RuntimeError as exc:  # a failed run still published its quality results
            failure = exc
    log.info("done in %.0fs", time.monotonic() - started)
    print_report(paths)
    if failure is not None:
        sys.exit(f"\nThe nightly run failed: {failure}")


if __name__ == "__main__":
    main()
