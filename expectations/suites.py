"""The gate's suites, one per layer, in the order they run."""

from expectations import marts, raw, staging
from expectations.checks import Check, Layer

SUITES: dict[Layer, tuple[Check, ...]] = {
    Layer.RAW: raw.CHECKS,
    Layer.STAGING: staging.CHECKS,
    Layer.MARTS: marts.CHECKS,
}
ALL_CHECKS: tuple[Check, ...] = tuple(check for checks in SUITES.values() for check in checks)
