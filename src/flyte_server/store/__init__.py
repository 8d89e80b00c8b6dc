"""The metadata store: SQLAlchemy 2 (async) models and repositories, SQLite or PostgreSQL.

The store is the source of truth: every state change of a run is committed here before it is
announced, so a restarted server resumes exactly where the last one stopped.
"""
