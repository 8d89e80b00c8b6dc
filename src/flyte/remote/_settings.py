"""``flyte.remote.Settings``: the control plane's defaults per organisation, domain and project.

Settings are layered: a project inherits its domain's, a domain the organisation's, and each
scope may override single keys (``run.default_queue``, ``task_resource.min.cpu``, ``labels``,
...). ``SettingsService.GetSettingsForEdit`` returns every layer of a scope; this module flattens
them into dot-notation keys, resolves them, and writes a scope's overrides back with
``UpdateSettings`` (or ``CreateSettings`` the first time). A control plane without the settings
service answers with a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flyte._internal.syncify import syncify_classmethod, syncify_method
from flyte.remote._common import ToDict, control_plane_error, get_clients, org

__all__ = ["EffectiveSetting", "LocalSetting", "Settings"]

_LEAVES = ("StringSetting", "Int64Setting", "BoolSetting", "StringMapSetting", "QuantitySetting", "AcceleratorSetting")
_VALUE_FIELDS = {
    "StringSetting": "string_value",
    "Int64Setting": "int_value",
    "BoolSetting": "bool_value",
    "StringMapSetting": "map_value",
    "QuantitySetting": "quantity_value",
    "AcceleratorSetting": "accelerator_value",
}


@dataclass(frozen=True)
class EffectiveSetting(ToDict):
    """A resolved setting and the scope it comes from."""

    key: str
    """Dot-notation key, e.g. ``run.default_queue``."""
    value: Any
    """The value."""
    origin: str
    """``ORG``, ``DOMAIN`` or ``PROJECT``."""


@dataclass(frozen=True)
class LocalSetting(ToDict):
    """A setting overridden at the scope itself."""

    key: str
    """Dot-notation key."""
    value: Any
    """The value."""


def _leaf_paths(descriptor: Any = None, prefix: str = "") -> list[tuple[str, str]]:
    from flyteidl2.settings import settings_definition_pb2

    descriptor = descriptor or settings_definition_pb2.Settings.DESCRIPTOR
    paths: list[tuple[str, str]] = []
    for item in descriptor.fields:
        if item.message_type is None:
            continue
        key = f"{prefix}{item.name}"
        if item.message_type.name in _LEAVES:
            paths.append((key, item.message_type.name))
        else:
            paths.extend(_leaf_paths(item.message_type, key + "."))
    return paths


def _leaf(message: Any, key: str) -> Any:
    for part in key.split("."):
        message = getattr(message, part)
    return message


def _value_of(leaf: Any, kind: str) -> Any:
    value = getattr(leaf, _VALUE_FIELDS[kind])
    if kind == "StringMapSetting":
        return dict(value.entries)
    if kind == "AcceleratorSetting":
        return {"device": value.device, "partition_size": value.partition_size} if value.device else None
    return value


def _flatten(settings: Any) -> dict[str, Any]:
    """The keys a settings message sets (``SETTING_STATE_VALUE``; ``UNSET`` as ``None``)."""
    from flyteidl2.settings import settings_definition_pb2 as d

    found: dict[str, Any] = {}
    for key, kind in _leaf_paths():
        leaf = _leaf(settings, key)
        if leaf.state == d.SETTING_STATE_VALUE:
            found[key] = _value_of(leaf, kind)
        elif leaf.state == d.SETTING_STATE_UNSET:
            found[key] = None
    return found


def _to_proto(values: dict[str, Any]) -> Any:
    from flyteidl2.settings import settings_definition_pb2 as d

    kinds = dict(_leaf_paths())
    unknown = sorted(set(values) - set(kinds))
    if unknown:
        raise ValueError(f"Unknown setting(s) {', '.join(unknown)}; see Settings.available_keys()")
    settings = d.Settings()
    for key, value in values.items():
        leaf = _leaf(settings, key)
        kind = kinds[key]
        if value is None:
            leaf.state = d.SETTING_STATE_UNSET
            continue
        leaf.state = d.SETTING_STATE_VALUE
        if kind == "StringMapSetting":
            if not isinstance(value, dict):
                raise ValueError(f"Setting {key} takes a mapping of strings, got {value!r}")
            leaf.map_value.entries.update({str(k): str(v) for k, v in value.items()})
        elif kind == "AcceleratorSetting":
            raise ValueError(f"Setting {key} cannot be set from the SDK here")
        elif kind == "BoolSetting":
            leaf.bool_value = bool(value)
        elif kind == "Int64Setting":
            leaf.int_value = int(value)
        else:
            setattr(leaf, _VALUE_FIELDS[kind], str(value))
    return settings


@dataclass
class Settings(ToDict):
    """The settings of one scope: what applies there (``effective_settings``) and what the scope
    itself overrides (``local_settings``).

    Example:
        >>> settings = flyte.remote.Settings.get_settings_for_edit(domain="production")  # doctest: +SKIP
        >>> settings.effective_values()["run.default_queue"]  # doctest: +SKIP
        >>> settings.update_settings({"run.default_queue": "gpu"})  # doctest: +SKIP
    """

    effective_settings: list[EffectiveSetting]
    """Every key that applies at this scope, with the scope it comes from."""
    local_settings: list[LocalSetting]
    """The keys this scope sets itself."""
    domain: str | None = None
    """The scope's domain (``None``: the organisation)."""
    project: str | None = None
    """The scope's project (``None``: the domain or organisation)."""
    _version: int = field(default=0, repr=False)

    @staticmethod
    def available_keys() -> list[str]:
        """Every dot-notation key a scope can set.

        Example:
            >>> "run.default_queue" in Settings.available_keys()
            True
        """
        return [key for key, _ in _leaf_paths()]

    def effective_values(self) -> dict[str, Any]:
        """The settings that apply here, by key."""
        return {item.key: item.value for item in self.effective_settings}

    def local_overrides(self) -> dict[str, Any]:
        """The settings this scope sets itself, by key."""
        return {item.key: item.value for item in self.local_settings}

    def scope_description(self) -> str:
        """``ORG``, ``DOMAIN(<domain>)`` or ``PROJECT(<domain>/<project>)``."""
        if self.project and self.domain:
            return f"PROJECT({self.domain}/{self.project})"
        return f"DOMAIN({self.domain})" if self.domain else "ORG"

    def to_yaml(self) -> str:
        """The local overrides as YAML (``key: value`` per line), for editing and :meth:`parse_yaml`."""
        import yaml

        header = f"# Settings of {self.scope_description()}\n"
        body = yaml.safe_dump(self.local_overrides(), sort_keys=True, default_flow_style=False)
        return header + ("" if body.strip() == "{}" else body)

    def to_yaml_sections(self) -> list[tuple[str, str]]:
        """``[(title, yaml)]``: this scope's own overrides, then what it inherits from outer scopes."""
        import yaml

        local = self.local_overrides()
        inherited = {item.key: item.value for item in self.effective_settings if item.key not in local}
        sections = []
        for title, values in (("Local overrides", local), ("Inherited settings", inherited)):
            if values:
                sections.append((title, yaml.safe_dump(values, sort_keys=True, default_flow_style=False)))
        return sections

    @staticmethod
    def parse_yaml(yaml_content: str) -> dict[str, Any]:
        """Overrides from YAML text (as :meth:`to_yaml` writes it).

        Raises:
            ValueError: the text is not a mapping.

        Example:
            >>> Settings.parse_yaml("run.default_queue: gpu\\n")
            {'run.default_queue': 'gpu'}
        """
        import yaml

        data = yaml.safe_load(yaml_content)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ValueError(f"Settings YAML must be a mapping of keys to values, got {type(data).__name__}")
        return {str(key): value for key, value in data.items()}

    @syncify_classmethod
    @classmethod
    async def get_settings_for_edit(cls, project: str | None = None, domain: str | None = None) -> Settings:
        """The settings of a scope (a project needs its domain), with those it inherits.

        Raises:
            ValueError: a project without a domain.
            flyte.errors.ControlPlaneError: the control plane has no settings service, or refused.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.settings import settings_definition_pb2 as d
        from flyteidl2.settings import settings_service_pb2

        if project and not domain:
            raise ValueError("Settings of a project need its domain too (domain=...)")
        key = d.SettingsKey(org=org(), domain=domain or "", project=project or "")
        try:
            response = await get_clients().settings_service.get_settings_for_edit(
                settings_service_pb2.GetSettingsForEditRequest(key=key)
            )
        except ConnectError as error:
            raise control_plane_error(error, f"the settings of {_scope(domain, project)}", explain=True) from error
        effective: dict[str, EffectiveSetting] = {}
        local: list[LocalSetting] = []
        version = 0
        for record in response.levels:  # organisation first, then domain, then project
            origin = "PROJECT" if record.key.project else "DOMAIN" if record.key.domain else "ORG"
            values = _flatten(record.settings)
            for name, value in values.items():
                effective[name] = EffectiveSetting(key=name, value=value, origin=origin)
            if record.key.domain == (domain or "") and record.key.project == (project or ""):
                local = [LocalSetting(key=name, value=value) for name, value in values.items()]
                version = int(record.version)
        return cls(
            effective_settings=[item for item in effective.values() if item.value is not None],
            local_settings=local,
            domain=domain,
            project=project,
            _version=version,
        )

    @syncify_method
    async def update_settings(self, overrides: dict[str, Any]) -> None:
        """Replace this scope's overrides with ``overrides`` (keys left out are inherited again).

        Raises:
            ValueError: an unknown key or a value of the wrong kind.
            flyte.errors.ControlPlaneError: someone changed the settings meanwhile, or the control
                plane refused.
        """
        from connectrpc.errors import ConnectError
        from flyteidl2.settings import settings_definition_pb2 as d
        from flyteidl2.settings import settings_service_pb2

        settings = _to_proto(overrides)
        key = d.SettingsKey(org=org(), domain=self.domain or "", project=self.project or "")
        service = get_clients().settings_service
        try:
            if self._version:
                response = await service.update_settings(
                    settings_service_pb2.UpdateSettingsRequest(key=key, settings=settings, version=self._version)
                )
            else:
                response = await service.create_settings(
                    settings_service_pb2.CreateSettingsRequest(key=key, settings=settings)
                )
        except ConnectError as error:
            what = f"updating the settings of {_scope(self.domain, self.project)}"
            raise control_plane_error(error, what, explain=True) from error
        self._version = int(response.settingsRecord.version)
        self.local_settings = [
            LocalSetting(key=k, value=v) for k, v in _flatten(response.settingsRecord.settings).items()
        ]


def _scope(domain: str | None, project: str | None) -> str:
    if project:
        return f"project {project} in {domain}"
    return f"domain {domain}" if domain else "the organisation"
