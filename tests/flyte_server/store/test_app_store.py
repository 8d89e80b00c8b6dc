"""The apps table (migration 5) on SQLite and PostgreSQL: create, find by name, update, list by scope, delete."""

from __future__ import annotations

from flyteidl2.app import app_definition_pb2 as definition

from flyte_server.store import apps as store
from flyte_server.store.db import MIGRATIONS, Database


def _app(name: str, project: str = "flytesnacks", command: str = "serve") -> definition.App:
    app = definition.App(
        metadata=definition.Meta(id=definition.Identifier(project=project, domain="development", name=name))
    )
    app.spec.container.args.append(command)
    app.status.current_replicas = 3  # status is live, never stored
    return app


async def test_apps_round_trip_and_list_by_scope(database: Database) -> None:
    assert MIGRATIONS[-1].version >= 5
    async with database.session() as session:
        for name, project in (("b-app", "flytesnacks"), ("a-app", "flytesnacks"), ("c-app", "other")):
            await store.create_app(session, _app(name, project))
    async with database.session() as session:
        row = await store.get_app_by_name(session, "a-app")
        assert row is not None and row.revision == 1
        await store.update_app(session, row, _app("a-app", command="serve --v2"))
    async with database.session() as session:
        row = await store.get_app(session, "flytesnacks", "development", "a-app")
        assert row is not None
        app = store.app_of(row)
        assert app.metadata.revision == 2 and list(app.spec.container.args) == ["serve --v2"]
        assert not app.HasField("status")
        listed = await store.list_apps(session, project="flytesnacks", domain="development", after="", limit=10)
        assert [r.name for r in listed] == ["a-app", "b-app"]
        page = await store.list_apps(session, project=None, domain=None, after="a-app", limit=1)
        assert [r.name for r in page] == ["b-app"]
        assert await store.delete_app(session, "flytesnacks", "development", "a-app")
        assert not await store.delete_app(session, "flytesnacks", "development", "a-app")
        assert await store.get_app_by_name(session, "a-app") is None
