"""The quality gate over the warehouse: Great Expectations suites and their thresholds."""

from expectations.gate import CheckResult, GateResult, QualityGateFailed, run_quality_gate

__all__ = ["CheckResult", "GateResult", "QualityGateFailed", "run_quality_gate"]
