"""Credentials of one source, as the DAG layer builds them from an Airflow Connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from extract.http import redact, register_secret


@dataclass(frozen=True)
class SourceConnection:
    """Where a source lives and how to authenticate: the token never appears in its repr.

    `base_url` is the API origin (`https://example.amocrm.ru`,
    `https://api.direct.yandex.com`); `extra` holds non-secret per-source settings.
    """

    base_url: str
    token: str | None  # None for a public feed that takes no credentials (the CBR's rates)
    extra: dict[str, Any] = field(default_factory=dict)
    login: str | None = None  # the Airflow Connection's login (Bitrix24: the webhook's user id)

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            shown = redact(self.base_url)
            raise ValueError(f"source base_url must start with http:// or https://: {shown!r}")
        if self.token is None:
            return
        if not self.token:
            raise ValueError(f"source connection to {redact(self.base_url)} has an empty token")
        register_secret(self.token)

    def __repr__(self) -> str:
        return (
            f"SourceConnection(base_url={redact(self.base_url)!r}, token='***', "
            f"extra_keys={sorted(self.extra)!r})"
        )
