"""Great Expectations over the gate's measurements: one suite per layer, Data Docs per run.

GX 1.x has no DuckDB data source, and the gate never hands it a model anyway: each layer's
measurements (one row per check x scope, see checks.py) form one small pandas frame, and
the layer's suite holds one expectation per check, restricted to that check's rows by a
row condition, plus one that no measurement is missing. The context is ephemeral; the
Data Docs site is the only thing written.
"""

from pathlib import Path
from typing import Any

import pandas as pd

from expectations.checks import Bound, Check, Layer
from expectations.thresholds import Threshold

# (check name, scope) of a failed expectation.
Failure = tuple[str, str]

_INDEX_COLUMNS = ["check_name", "scope"]
_RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": _INDEX_COLUMNS}
_SITE = "quality_gate"


def _suite(layer: Layer, checks: tuple[Check, ...], thresholds: dict[str, Threshold]) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    expectations: list[Any] = []
    for check in checks:
        threshold = thresholds[check.name]
        side, operator = ("min_value", ">=") if check.bound is Bound.MIN else ("max_value", "<=")
        expectations.append(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="observed_value",
                row_condition=Column("check_name") == check.name,
                severity=threshold.severity.value,
                description=(
                    f"{check.name} ({threshold.severity}): {check.description}; "
                    f"passes when {operator} {threshold.threshold:g}"
                ),
                meta={"check": check.name, **threshold.params},
                **{side: threshold.threshold},
            )
        )
    # A share over nothing, or a measurement that could not run, is NULL: Between skips
    # NULLs, so this expectation makes them fail instead of passing unseen.
    expectations.append(
        gx.expectations.ExpectColumnValuesToNotBeNull(
            column="observed_value",
            description="every check measured something (NULL: nothing to measure, or failed)",
        )
    )
    return gx.ExpectationSuite(name=layer.value, expectations=expectations)


def _failures(layer: Layer, validation: Any) -> set[Failure]:
    failures: set[Failure] = set()
    for outcome in validation.results:
        unexpected = outcome.result.get("unexpected_index_list") or []
        if not outcome.success and not unexpected:
            raise RuntimeError(
                f"quality suite {layer}: Great Expectations could not evaluate "
                f"{outcome.expectation_config.type} ({outcome.expectation_config.description}) "
                "on the measurement frame"
            )
        failures.update((row["check_name"], row["scope"]) for row in unexpected)
    return failures


def validate(
    frames: dict[Layer, pd.DataFrame],
    suites: dict[Layer, tuple[Check, ...]],
    thresholds: dict[str, Threshold],
    run_id: str,
    data_docs_dir: Path,
) -> tuple[set[Failure], Path]:
    """Validate each layer's frame (columns check_name, scope, observed_value) with its
    suite and build the Data Docs into `data_docs_dir`; return the failed (check, scope)
    pairs and the Data Docs index page."""
    # GX takes seconds to import: keep it out of module import, which DAG parsing triggers.
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        _SITE,
        {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    data_source = context.data_sources.add_pandas(name="quality_gate")
    failures: set[Failure] = set()
    for layer, frame in frames.items():
        batch_definition = data_source.add_dataframe_asset(
            name=f"{layer}_measurements"
        ).add_batch_definition_whole_dataframe("whole_frame")
        suite = context.suites.add(_suite(layer, suites[layer], thresholds))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=layer.value, data=batch_definition, suite=suite)
        )
        validation = definition.run(
            batch_parameters={"dataframe": frame},
            result_format=_RESULT_FORMAT,
            run_id=RunIdentifier(run_name=run_id),
        )
        failures |= _failures(layer, validation)
    context.build_data_docs(site_names=[_SITE])
    return failures, data_docs_dir / "index.html"
