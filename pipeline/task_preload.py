"""What every LocalExecutor task process starts with, imported once by the scheduler's forkserver.

The embedded runtime sets ``[scheduler] mp_start_method = forkserver`` and names this module in
``mp_forkserver_preload`` (``pipeline.runtime.airflow_env``). The forkserver imports it before it starts the
executor's workers; every task is an ``os.fork()`` of a worker, so a validate task finds Great Expectations
imported (~2.5 s otherwise) and a snapshot task scipy.stats (~0.9 s).
"""

import gc
import importlib

# In this order: pipeline.quality turns GE's INFO logging off before GE is imported (~150 lines about its API
# docs that nobody reads in the scheduler's log).
PRELOADED = ("airflow.executors.local_executor", "airflow.sdk", "duckdb", "pyarrow", "pipeline.quality",
             "great_expectations", "scipy.stats")

for name in PRELOADED:
    importlib.import_module(name)

# Objects imported so far are never collected: keep the collector from writing to their pages, which would
# copy them into every worker (what Airflow's LocalExecutor does before it forks its own workers).
gc.freeze()
