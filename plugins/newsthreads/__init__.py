"""newsthreads: news ingestion into PostgreSQL, grouped into story threads.

Data flows one way: sources -> normalise -> store -> stories.
"""

__version__ = "0.1.0"
