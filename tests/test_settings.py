from pathlib import Path

import pytest

from funnelhouse.connections import base_url
from funnelhouse.settings import KNOWN_SOURCES, ConfigError, Paths, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "funnelhouse.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_enables_every_source_the_demo_serves() -> None:
    config = load_config()
    assert sorted(s.name for s in config.sources) == sorted(KNOWN_SOURCES)
    assert config.time_zone.key == "Europe/Moscow"
    assert config.source("yandex_direct").options["lookback_days"] == 3


def test_disabled_source_is_left_out(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
sources:
  amocrm: {enabled: false, conn_id: a, start_date: 2026-01-01}
  yandex_direct: {conn_id: y, start_date: 2026-01-01}
""",
        )
    )
    assert [s.name for s in config.sources] == ["yandex_direct"]
    with pytest.raises(ConfigError, match="not enabled"):
        config.source("amocrm")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sources: {salesforce: {conn_id: x, start_date: 2026-01-01}}",
            "unknown source 'salesforce'",
        ),
        ("sources: {amocrm: {start_date: 2026-01-01}}", "needs 'conn_id'"),
        ("sources: {amocrm: {conn_id: x, start_date: yesterday}}", "start_date must be"),
    ],
)
def test_config_errors_name_the_source_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_warehouse_path_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FUNNELHOUSE_WAREHOUSE", str(tmp_path / "w" / "x.duckdb"))
    monkeypatch.delenv("FUNNELHOUSE_RAW_DIR", raising=False)
    paths = Paths.from_env()
    assert paths.warehouse == tmp_path / "w" / "x.duckdb"
    assert paths.raw_dir == tmp_path / "w" / "raw"


@pytest.mark.parametrize(
    ("host", "port", "schema", "url"),
    [
        ("https://acme.amocrm.ru/", None, None, "https://acme.amocrm.ru"),
        ("127.0.0.1", 8701, "http", "http://127.0.0.1:8701"),
        ("api.direct.yandex.com", None, None, "https://api.direct.yandex.com"),
    ],
)
def test_connection_host_becomes_a_base_url(
    host: str, port: int | None, schema: str | None, url: str
) -> None:
    assert base_url(host, port, schema) == url
