"""DAG tests parse the real dags/ folder with Airflow pointed at a throw-away AIRFLOW_HOME."""

from tests.airflow_env import use_test_airflow_home

use_test_airflow_home()
