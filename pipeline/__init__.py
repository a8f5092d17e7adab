"""Goalpost: social-media KPIs and SMART goal progress, as an importable library.

Every step (ingest, land, transform, validate, snapshot, emit) runs without Airflow;
the DAGs in ``dags/`` only wire these functions to schedules and Assets.
"""

__version__ = "0.1.0"
