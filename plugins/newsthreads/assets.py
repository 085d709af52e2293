"""Names shared by the DAG files, kept in a module with no imports so DAG parsing stays fast."""

ARTICLES_ASSET_URI = "newsthreads://articles"  # updated by every ingest; schedules threading
