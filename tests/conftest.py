"""Keeps Airflow, dbt and GX state out of the user's home and off the network during tests."""

import os
import tempfile

# Must happen before anything imports airflow: its config creates AIRFLOW_HOME on import.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="funnelhouse-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
