"""The Flyte 2 control plane: ``flyte start server``.

It serves the Flyte 2 Connect services on one port, keeps runs, actions and tasks in a SQL store
(SQLite by default, PostgreSQL to scale out), blobs in an object store (a local directory by
default, S3-compatible storage to scale out), and executes actions as worker processes.
"""
