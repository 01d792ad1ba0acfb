"""Source credentials from Airflow Connections (AIRFLOW_CONN_<ID> works too).

The token is the connection's password, so Airflow masks it in task logs.
"""

from __future__ import annotations

from extract.connection import SourceConnection


def base_url(host: str, port: int | None, schema: str | None) -> str:
    """`host` may be a full URL (https://x.amocrm.ru) or a bare host with port and scheme."""
    if "://" in host:
        return host.rstrip("/")
    scheme = schema or "https"
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def source_connection(conn_id: str, *, needs_token: bool = True) -> SourceConnection:
    """The source's Airflow Connection; `needs_token=False` for a public feed, whose
    connection only says where it lives."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    if not conn.host:
        raise ValueError(f"Airflow connection {conn_id!r} has no host")
    if needs_token and not conn.password:
        raise ValueError(f"Airflow connection {conn_id!r} has no password (the API token)")
    return SourceConnection(
        base_url=base_url(conn.host, conn.port, conn.schema),
        token=conn.password or None,
        extra=conn.extra_dejson,
        login=conn.login or None,
    )
