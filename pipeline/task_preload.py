"""What every LocalExecutor task process starts with, imported once by the scheduler's forkserver.

The embedded runtime sets ``[scheduler] mp_start_method = forkserver`` and names this module in
``mp_forkserver_preload`` (``pipeline.runtime.airflow_env``). The forkserver imports it before it starts the
executor's workers; every task is an ``os.fork()`` of a worker, so a validate task finds Great Expectations
imported (~2.5 s otherwise) and a snapshot task scipy.stats (~0.9 s).
"""

import gc
import logging

# GE logs ~150 INFO lines about its API docs while importing; nobody reads them in the scheduler's log.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

import airflow.executors.local_executor  # what the workers run
import airflow.sdk  # noqa: F401  (what the task processes run)
import duckdb  # noqa: F401
import great_expectations  # noqa: F401
import pyarrow  # noqa: F401
import scipy.stats  # noqa: F401

# Objects imported so far are never collected: keep the collector from writing to their pages, which would
# copy them into every worker (what Airflow's LocalExecutor does before it forks its own workers).
gc.freeze()
