"""The Story threads pages that Airflow's API server mounts from our plugin.

Kept out of the plugin file so that Airflow processes which never serve HTTP (scheduler,
dag-processor, task runners) never import FastAPI, Jinja2 or psycopg for it.
"""
