"""The quality gate over the warehouse: Great Expectations suites per layer and their
thresholds (thresholds.yml)."""

from expectations.gate import (
    CheckResult,
    GateResult,
    QualityGateFailed,
    Status,
    data_docs_root,
    run_data_docs_dir,
    run_quality_gate,
)

__all__ = [
    "CheckResult",
    "GateResult",
    "QualityGateFailed",
    "Status",
    "data_docs_root",
    "run_data_docs_dir",
    "run_quality_gate",
]
