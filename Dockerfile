# newsthreads on the official Airflow 3 image, with the dependency versions we test (requirements.lock).
#
#   docker build -t newsthreads-airflow .        (docker compose build does the same)
#
# The code is baked in (dags/ plugins/ sql/ seeds/ under /opt/airflow), so the image runs on its
# own; docker-compose.yml also mounts those folders over it so edits need no rebuild.
FROM apache/airflow:3.3.2-python3.11

# Runtime dependencies only (no test extras), at the locked versions; apache-airflow is pinned
# to the image's own 3.3.2 by the lock, so pip keeps it. The package itself is installed for
# the `newsthreads` command; PYTHONPATH below lets the plugins/ copy take precedence.
COPY --chown=airflow:0 requirements.lock pyproject.toml setup.py README.md /opt/newsthreads/
COPY --chown=airflow:0 plugins/newsthreads /opt/newsthreads/plugins/newsthreads
RUN pip install --no-cache-dir --constraint /opt/newsthreads/requirements.lock /opt/newsthreads

COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
# The clustering's C kernels, built by the pip install above when the image has a compiler, go
# beside the plugins/ copy that PYTHONPATH puts first; without them the same code runs in
# Python (same threads, slower; cluster_pending logs which).
RUN python -c "import newsthreads.stories._kernels as k, shutil; \
shutil.copy(k.__file__, '/opt/airflow/plugins/newsthreads/stories/')" \
    || echo "newsthreads: C kernels not built, clustering runs in pure Python"
COPY --chown=airflow:0 sql /opt/airflow/sql
COPY --chown=airflow:0 seeds /opt/airflow/seeds
# Mount point of the compose file's airflow-auth volume: a new named volume takes this owner.
RUN mkdir -p /opt/airflow/auth

ENV PYTHONPATH=/opt/airflow/plugins \
    NEWS_SQL_DIR=/opt/airflow/sql \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
