"""Where funnelhouse keeps its files and which sources it runs.

Paths come from the environment (FUNNELHOUSE_WAREHOUSE, FUNNELHOUSE_RAW_DIR,
FUNNELHOUSE_CONFIG) with defaults inside the project; the source list and options
come from `funnelhouse.yml`, which holds no secrets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
WAREHOUSE_POOL = "funnelhouse_warehouse"
KNOWN_SOURCES = (
    "amocrm",
    "bitrix24",
    "hubspot",
    "yandex_direct",
    "google_ads",
    "meta_ads",
    "cbr_rates",
)


class ConfigError(ValueError):
    """funnelhouse.yml says something funnelhouse cannot run."""


@dataclass(frozen=True)
class Paths:
    warehouse: Path
    raw_dir: Path
    config: Path

    @classmethod
    def from_env(cls) -> Paths:
        warehouse = Path(
            os.environ.get(
                "FUNNELHOUSE_WAREHOUSE", PROJECT_ROOT / "warehouse" / "funnelhouse.duckdb"
            )
        ).resolve()
        raw_dir = Path(os.environ.get("FUNNELHOUSE_RAW_DIR", warehouse.parent / "raw")).resolve()
        config = Path(os.environ.get("FUNNELHOUSE_CONFIG", PROJECT_ROOT / "funnelhouse.yml"))
        return cls(warehouse=warehouse, raw_dir=raw_dir, config=config.resolve())

    def dbt_env(self) -> dict[str, str]:
        """The environment the dbt profile reads its paths from."""
        return {
            "FUNNELHOUSE_WAREHOUSE": str(self.warehouse),
            "FUNNELHOUSE_RAW_DIR": str(self.raw_dir),
        }


@dataclass(frozen=True)
class SourceConfig:
    name: str
    conn_id: str
    start_date: date
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineConfig:
    cron: str
    time_zone: ZoneInfo
    sources: tuple[SourceConfig, ...]

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"source {name!r} is not enabled in funnelhouse.yml")


def load_config(path: Path | None = None) -> PipelineConfig:
    path = path or Paths.from_env().config
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    schedule = raw.get("schedule") or {}
    return PipelineConfig(
        cron=str(schedule.get("cron", "0 3 * * *")),
        time_zone=ZoneInfo(str(schedule.get("time_zone", "Europe/Moscow"))),
        sources=tuple(_enabled_sources(raw.get("sources") or {}, path)),
    )


def _enabled_sources(sources: dict[str, dict[str, Any]], path: Path) -> list[SourceConfig]:
    enabled = []
    for name, options in sources.items():
        if name not in KNOWN_SOURCES:
            raise ConfigError(f"{path}: unknown source {name!r}; known: {', '.join(KNOWN_SOURCES)}")
        options = dict(options or {})
        if not options.pop("enabled", True):
            continue
        for key in ("conn_id", "start_date"):
            if key not in options:
                raise ConfigError(f"{path}: source {name!r} needs {key!r}")
        start_date = options.pop("start_date")
        if not isinstance(start_date, date):
            raise ConfigError(f"{path}: source {name!r}: start_date must be a YYYY-MM-DD date")
        enabled.append(
            SourceConfig(
                name=name,
                conn_id=str(options.pop("conn_id")),
                start_date=start_date,
                options=options,
            )
        )
    return enabled


def reporting_currency() -> str:
    """The marts' currency: the dbt var analysts set in dbt_project.yml."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return str(project["vars"]["reporting_currency"])
