"""Run notifications (``flyte.notify``): when a run ends, deliver the rules that match its phase.

The rules come from the run's spec: ``RunSpec.notification_rules`` (inline, as the SDKs send
them) and ``RunSpec.notification_rule_name`` (a rule set configured on the server). A rule
delivers either its own template (email or webhook) or a named delivery configured on the server.
Named rule sets and deliveries are read from the JSON file ``FLYTE_SERVER_NOTIFICATIONS_FILE``::

    {"deliveries": {"oncall": {"email": {"to": [{"address": "oncall@example.com"}], "inline": {...}}}},
     "rules": {"team": {"rules": [{"onPhases": ["ACTION_PHASE_FAILED"], "deliveryConfigName": "oncall"}]}}}

(``DeliveryConfigTemplate`` and ``InlineRuleList`` in protobuf JSON).

Each delivery is first *claimed* in the delivery log (``notification_deliveries``: one row per
run, rule and phase), so a run's notification goes out once even when its terminal event is seen
twice or by two replicas; the row then says ``delivered`` or ``failed``, with the attempts and the
last error. Email goes by SMTP (``FLYTE_SERVER_SMTP_HOST``, ``_PORT`` (25), ``_FROM``, ``_USER``,
``_PASSWORD``, ``_STARTTLS=1``); webhooks by HTTP(S) (no redirects, 10 s timeout). Transport
errors, 429 and 5xx (SMTP: connection errors and 4xx replies) are retried with exponential
backoff (tenacity). ``{{.Run.Name}}``, ``{{.Run.Project}}``, ``{{.Run.Domain}}``, ``{{.Phase}}``
and ``{{.Error}}`` are replaced in subjects, bodies and webhook bodies (JSON-escaped there).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import smtplib
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from flyteidl2.common import phase_pb2
from flyteidl2.notification import definition_pb2
from flyteidl2.task import run_pb2
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from sqlalchemy import select, update

from flyte_server.engine.model import ROOT_ACTION, ActionKey, is_terminal, now_us, phase_name
from flyte_server.engine.watch import ActionEvent
from flyte_server.store import runs as store
from flyte_server.store.models.notifications import NotificationRow

if TYPE_CHECKING:
    from flyte_server.engine import Engine

__all__ = ["Notifier", "delivery_log"]

logger = logging.getLogger(__name__)

_ATTEMPTS = int(os.environ.get("FLYTE_SERVER_NOTIFY_ATTEMPTS", "5"))
_TIMEOUT_S = 10.0
_PLACEHOLDER = re.compile(r"\{\{\s*\.(Run\.Name|Run\.Project|Run\.Domain|Phase|Error)\s*\}\}")


class _Retryable(Exception):
    """A delivery that may succeed later (a 429/5xx answer, an SMTP 4xx reply)."""


def render(template: str, values: dict[str, str], *, json_escape: bool = False) -> str:
    """``template`` with its ``{{.Run.Name}}``-style placeholders replaced."""

    def value(match: re.Match[str]) -> str:
        text = values.get(match.group(1), "")
        return json.dumps(text)[1:-1] if json_escape else text

    return _PLACEHOLDER.sub(value, template)


def _named_config() -> dict[str, Any]:
    path = os.environ.get("FLYTE_SERVER_NOTIFICATIONS_FILE")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as error:
        logger.error("cannot read the notification configuration %s: %s", path, error)
        return {}
    return document if isinstance(document, dict) else {}


def _kind(template: definition_pb2.DeliveryConfigTemplate | None) -> str | None:
    if template is None:
        return None
    if template.HasField("email"):
        return "email"
    if template.HasField("webhook"):
        return "webhook"
    return None


class Notifier:
    """Watches for runs that end and delivers their notifications (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._tasks: set[asyncio.Task[None]] = set()

    def on_event(self, event: ActionEvent) -> None:
        """A committed change: a root that became terminal has its notifications sent."""
        if event.key.name != ROOT_ACTION or not is_terminal(event.phase):
            return
        task = asyncio.get_running_loop().create_task(self._notify(event.key, event.phase))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ rules

    def _rules(self, spec: run_pb2.RunSpec) -> list[run_pb2.InlineRule]:
        rules = list(spec.notification_rules.rules)
        if spec.notification_rule_name:
            named = _named_config().get("rules", {}).get(spec.notification_rule_name)
            if named is None:
                logger.warning("notification rule set %r is not configured", spec.notification_rule_name)
            else:
                try:
                    rules += list(json_format.ParseDict(named, run_pb2.InlineRuleList()).rules)
                except json_format.ParseError as error:
                    logger.error("notification rule set %r: %s", spec.notification_rule_name, error)
        return rules

    def _template(self, rule: run_pb2.InlineRule) -> definition_pb2.DeliveryConfigTemplate | None:
        if rule.HasField("delivery_template"):
            return rule.delivery_template
        if not rule.delivery_config_name:
            return None
        named = _named_config().get("deliveries", {}).get(rule.delivery_config_name)
        if named is None:
            return None
        try:
            return json_format.ParseDict(named, definition_pb2.DeliveryConfigTemplate())
        except json_format.ParseError:
            return None

    async def _notify(self, key: ActionKey, phase: int) -> None:
        async with self.engine.database.session() as session:
            row = await store.get_action(session, key)
        if row is None or not row.run_spec:
            return
        try:
            spec = run_pb2.RunSpec.FromString(row.run_spec)
        except DecodeError:
            return
        from flyte_server.engine.details import error_from_bytes

        error = error_from_bytes(row.error_info)
        values = {
            "Run.Name": key.run,
            "Run.Project": key.project,
            "Run.Domain": key.domain,
            "Phase": phase_name(phase),
            "Error": (error.message if error is not None else "") or row.abort_reason or "",
        }
        for index, rule in enumerate(self._rules(spec)):
            if phase not in rule.on_phases:
                continue
            template = self._template(rule)
            kind = _kind(template)
            target = self._target(template, kind, rule)
            if not await self._claim(key, index, phase, kind or "unknown", target):
                continue  # already sent (or being sent) for this run
            if template is None or kind is None:
                await self._record(key, index, "failed", 0, f"no delivery named {rule.delivery_config_name!r}")
                continue
            try:
                attempts = await self._deliver(template, kind, values)
            except Exception as failure:  # recorded in the delivery log; the run is not affected
                attempts = getattr(failure, "attempts", _ATTEMPTS)
                await self._record(key, index, "failed", attempts, str(failure)[:500] or type(failure).__name__)
                logger.warning("notification %d of run %s failed: %s", index, key.run, failure)
            else:
                await self._record(key, index, "delivered", attempts, "")

    @staticmethod
    def _target(template: Any, kind: str | None, rule: run_pb2.InlineRule) -> str:
        if kind == "email":
            return ", ".join(recipient.address for recipient in template.email.to)
        if kind == "webhook":
            return str(template.webhook.url)
        return str(rule.delivery_config_name)

    # ------------------------------------------------------------------ the log

    async def _claim(self, key: ActionKey, rule: int, phase: int, kind: str, target: str) -> bool:
        from sqlalchemy.dialects import postgresql, sqlite

        stamp = now_us()
        values = {
            "project": key.project,
            "domain": key.domain,
            "run_name": key.run,
            "rule": rule,
            "phase": phase,
            "kind": kind,
            "target": target[:2000],
            "status": "pending",
            "created_us": stamp,
            "updated_us": stamp,
        }
        async with self.engine.database.session() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            result = await session.execute(dialect.insert(NotificationRow).values(**values).on_conflict_do_nothing())
            return bool(getattr(result, "rowcount", 0))

    async def _record(self, key: ActionKey, rule: int, status: str, attempts: int, detail: str) -> None:
        async with self.engine.database.session() as session:
            await session.execute(
                update(NotificationRow)
                .where(
                    NotificationRow.project == key.project,
                    NotificationRow.domain == key.domain,
                    NotificationRow.run_name == key.run,
                    NotificationRow.rule == rule,
                )
                .values(status=status, attempts=attempts, detail=detail, updated_us=now_us())
            )

    # ------------------------------------------------------------------ delivery

    async def _deliver(self, template: Any, kind: str, values: dict[str, str]) -> int:
        """Send it; returns how many attempts it took (raises after the last one failed)."""
        import tenacity

        attempts = 0
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(_ATTEMPTS),
            wait=tenacity.wait_exponential(multiplier=0.5, max=30),
            retry=tenacity.retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    if kind == "email":
                        await asyncio.to_thread(_send_email, template.email, values)
                    else:
                        await _send_webhook(template.webhook, values)
        except Exception as error:
            error.attempts = attempts  # type: ignore[attr-defined]
            raise
        return attempts


async def _send_webhook(webhook: definition_pb2.WebhookDeliveryTemplate, values: dict[str, str]) -> None:
    import httpx

    if not webhook.url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {webhook.url[:100]}")
    method = definition_pb2.HttpMethod.Name(webhook.method).removeprefix("HTTP_METHOD_")
    if method == "UNSPECIFIED":
        method = "POST"
    headers = dict(webhook.headers)
    body = render(webhook.body_template, values, json_escape=True).encode() if webhook.body_template else None
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT_S, follow_redirects=False) as client:
            response = await client.request(method, webhook.url, headers=headers, content=body)
    except httpx.TransportError as error:
        raise _Retryable(f"{type(error).__name__}: {error}") from error
    if response.status_code == 429 or response.status_code >= 500:
        raise _Retryable(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise RuntimeError(f"HTTP {response.status_code}")


def _send_email(email: definition_pb2.EmailDeliveryTemplate, values: dict[str, str]) -> None:
    host = os.environ.get("FLYTE_SERVER_SMTP_HOST")
    if not host:
        raise RuntimeError("no SMTP server configured (FLYTE_SERVER_SMTP_HOST)")
    if not email.HasField("inline"):
        raise RuntimeError("provider email templates are not supported; use an inline template")
    message = EmailMessage()
    message["From"] = os.environ.get("FLYTE_SERVER_SMTP_FROM", "flyte@localhost")
    message["To"] = ", ".join(r.address for r in email.to)
    if email.cc:
        message["Cc"] = ", ".join(r.address for r in email.cc)
    message["Subject"] = render(email.inline.subject, values).replace("\r", " ").replace("\n", " ")
    message.set_content(render(email.inline.text_template, values))
    if email.inline.html_template:
        message.add_alternative(render(email.inline.html_template, values), subtype="html")
    recipients = [r.address for r in (*email.to, *email.cc, *email.bcc)]
    try:
        with smtplib.SMTP(host, int(os.environ.get("FLYTE_SERVER_SMTP_PORT", "25")), timeout=_TIMEOUT_S) as smtp:
            if os.environ.get("FLYTE_SERVER_SMTP_STARTTLS") == "1":
                smtp.starttls()
            user = os.environ.get("FLYTE_SERVER_SMTP_USER")
            if user:
                smtp.login(user, os.environ.get("FLYTE_SERVER_SMTP_PASSWORD", ""))
            smtp.send_message(message, to_addrs=recipients)
    except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as error:
        raise _Retryable(f"SMTP: {error}") from error
    except smtplib.SMTPResponseException as error:
        if 400 <= error.smtp_code < 500:
            raise _Retryable(f"SMTP {error.smtp_code}") from error
        raise RuntimeError(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error


async def delivery_log(engine: Engine, project: str, domain: str, run: str) -> list[NotificationRow]:
    """The notifications of a run, in rule order."""
    async with engine.database.session() as session:
        rows = await session.scalars(
            select(NotificationRow)
            .where(
                NotificationRow.project == project, NotificationRow.domain == domain, NotificationRow.run_name == run
            )
            .order_by(NotificationRow.rule)
        )
        return list(rows.all())


def log_annotations(rows: list[NotificationRow]) -> dict[str, str]:
    """The delivery log as run annotations (``flyte.notify/<rule>``), for GetRunDetails."""
    result = {}
    for row in rows:
        text = f"{phase_name(row.phase)} {row.kind} {row.target}: {row.status}"
        if row.attempts:
            text += f" after {row.attempts} attempt{'s' if row.attempts != 1 else ''}"
        if row.detail:
            text += f" ({row.detail})"
        result[f"flyte.notify/{row.rule}"] = text
    return result


del phase_pb2
