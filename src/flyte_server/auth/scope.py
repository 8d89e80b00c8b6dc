"""Project and domain limits of a principal, checked on the request messages of Connect RPCs.

A key limited to some projects, and a task's per-run credential (one project and domain), may
only name those in a request. The project and domain of a request are found where flyteidl2 puts
them: ``project``/``domain`` string fields of an identifier, or a ``ProjectIdentifier``'s
``name``/``domain``, searched a few levels deep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from flyte_server.auth.principal import Principal, current_principal

__all__ = ["ScopeInterceptor", "scopes_named"]

_MAX_DEPTH = 4
_PROJECT_IDENTIFIER = "flyteidl2.common.ProjectIdentifier"


def scopes_named(message: Message, depth: int = 0) -> Iterator[tuple[str | None, str | None]]:
    """The (project, domain) pairs a request names (either may be ``None``)."""
    fields = dict((field.name, value) for field, value in message.ListFields())
    if message.DESCRIPTOR.full_name == _PROJECT_IDENTIFIER:
        yield fields.get("name") or None, fields.get("domain") or None
        return
    project, domain = fields.get("project"), fields.get("domain")
    if isinstance(project, str) or isinstance(domain, str):
        yield (project if isinstance(project, str) else None), (domain if isinstance(domain, str) else None)
    if depth >= _MAX_DEPTH:
        return
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE or field.message_type.GetOptions().map_entry:
            continue
        values = [value] if isinstance(value, Message) else value
        for item in list(values)[:64]:
            yield from scopes_named(item, depth + 1)


def check_scope(principal: Principal | None, message: Message) -> None:
    """Raise ``PERMISSION_DENIED`` when ``message`` names a project or domain outside ``principal``'s."""
    if principal is None or (principal.projects is None and principal.domain is None):
        return
    for project, domain in scopes_named(message):
        if project and principal.projects is not None and project not in principal.projects:
            raise ConnectError(Code.PERMISSION_DENIED, f"{principal.subject} may not use project {project!r}")
        if domain and principal.domain is not None and domain != principal.domain:
            raise ConnectError(Code.PERMISSION_DENIED, f"{principal.subject} may not use domain {domain!r}")


class ScopeInterceptor:
    """Applies :func:`check_scope` to every unary and server-streaming request."""

    async def intercept_unary(
        self,
        call_next: Callable[[Any, RequestContext[Any, Any]], Awaitable[Any]],
        request: Any,
        ctx: RequestContext[Any, Any],
    ) -> Any:
        check_scope(current_principal(), request)
        return await call_next(request, ctx)

    async def intercept_server_stream(
        self,
        call_next: Callable[[Any, RequestContext[Any, Any]], AsyncIterator[Any]],
        request: Any,
        ctx: RequestContext[Any, Any],
    ) -> AsyncIterator[Any]:
        check_scope(current_principal(), request)
        async for response in call_next(request, ctx):
            yield response
