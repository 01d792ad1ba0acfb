"""A warehouse fed from the sandbox through the task functions, night after night."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from extract.connection import SourceConnection
from funnelhouse import tasks
from funnelhouse.dbt import run_dbt
from funnelhouse.settings import PROJECT_ROOT, Paths, load_config

SEED, LEADS = 11, 400
TOKEN = "quality-tests-token"
# 03:00 in Moscow after the sandbox's last day: the first night's data interval end.
FIRST_NIGHT = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


def night_run_id(night: int) -> str:
    """An Airflow-like run id (its `:` and `+` must survive as file and folder names)."""
    return f"scheduled__{(FIRST_NIGHT + timedelta(days=night - 1)).isoformat()}"


@dataclass
class Pipeline:
    """One warehouse, its raw landing and its publication folder, run by task functions."""

    root: Path
    urls: dict[str, str]

    @property
    def paths(self) -> Paths:
        return Paths(
            warehouse=self.root / "warehouse" / "funnelhouse.duckdb",
            raw_dir=self.root / "warehouse" / "raw",
            config=PROJECT_ROOT / "funnelhouse.yml",
        )

    @property
    def dbt_target(self) -> Path:
        """dbt's target folder of this pipeline: other test runs must not share it."""
        return self.root / "dbt_target"

    def extract(self, night: int) -> None:
        """Extract the enabled sources this pipeline's sandbox serves (`urls`): the gate
        scenarios here are planted in amoCRM's data (Bitrix24 runs in the e2e test)."""
        for source in load_config(self.paths.config).sources:
            if source.name not in self.urls:
                continue
            tasks.extract_source(
                source,
                run_id=night_run_id(night),
                data_interval_end=FIRST_NIGHT + timedelta(days=night - 1),
                connection=SourceConnection(self.urls[source.name], TOKEN),
                paths=self.paths,
            )

    def validate_phones(self) -> None:
        tasks.refresh_phones(self.paths)

    def build(self) -> None:
        """validate_phones, then dbt_build (`dbt build`, in a target folder of its own)."""
        self.validate_phones()
        run_dbt(["build"], self.paths, target_path=self.dbt_target)

    def rebuild_intermediate(self) -> None:
        """`dbt run` of the intermediate models only: the tables among them (the leads the
        gate reads, say) take in what a test planted in staging, the marts stay as built."""
        run_dbt(
            ["run", "--select", "path:models/intermediate"],
            self.paths,
            target_path=self.dbt_target,
        )

    def gate(self, night: int) -> str:
        return tasks.quality_gate(run_id=night_run_id(night), paths=self.paths)

    def publish(self, night: int, gate_state: str | None) -> str:
        return tasks.publish_marts(
            run_id=night_run_id(night), gate_state=gate_state, paths=self.paths
        )

    def copy_to(self, root: Path) -> Pipeline:
        shutil.copytree(self.root, root, symlinks=True, dirs_exist_ok=True)
        return Pipeline(root, self.urls)
