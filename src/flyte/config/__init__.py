"""Flyte configuration files: finding, reading and writing them.

A config file is YAML with up to five sections; every key is optional::

    admin:
      endpoint: dns:///flyte.example.com     # also https://host, http://host, host:port
      insecure: false                        # plain-text gRPC/HTTP
      insecureSkipVerify: false
      caCertFilePath: /etc/ssl/extra-ca.pem
      authType: Pkce                         # ClientSecret | DeviceFlow | ExternalCommand
      clientId: my-app
      clientSecretLocation: /etc/secrets/id  # file holding the client secret, or
      clientSecretEnvVar: MY_CLIENT_SECRET   # environment variable holding it (wins if set)
      scopes: [all]
      command: [get-token, --quiet]          # ExternalCommand auth
      proxyCommand: [get-proxy-token]
      httpProxyURL: http://proxy:3128
      disableKeyring: false
    console:
      endpoint: https://console.example.com
    task:
      org: acme
      project: flytesnacks
      domain: development
    image:
      builder: local                         # local | local-podman | remote
      registry: ghcr.io/acme
      image_refs:
        gpu: ghcr.io/acme/gpu:1.2
    local:
      persistence: false
      tracked: false
      tracked_strict: false

A client secret (from ``clientSecretLocation`` or ``clientSecretEnvVar``) switches
``authType`` to ``ClientSecret``. Unknown sections and keys are ignored.

Search order, used by :func:`auto` when it is given no path; the first file that exists wins:

1. ``./config.yaml`` in the current directory;
2. ``./.flyte/config.yaml`` in the current directory;
3. ``.flyte/config.yaml`` at the root of the git repository holding the current directory;
4. the file named by ``$UCTL_CONFIG``, then by ``$FLYTECTL_CONFIG`` (a named file that does
   not exist is an error, not a reason to keep looking; an empty variable is ignored);
5. ``~/.union/config.yaml``;
6. ``~/.flyte/config.yaml``.

No file found gives an empty :class:`Config`. A path given to :func:`auto` must exist. A
leading ``~`` in a given path or in the two variables is expanded; ``$VARS`` are not.
``$FLYTE_CONFIG`` is not consulted.

Environment overrides apply on top of a file that was found (never without one). A variable
that is set, even to the empty string, replaces the file's value; empty clears it:

- ``FLYTE_ADMIN_ENDPOINT``, ``FLYTE_ADMIN_INSECURE``, ``FLYTE_ADMIN_INSECURESKIPVERIFY``,
  ``FLYTE_ADMIN_CACERTFILEPATH``, ``FLYTE_ADMIN_CLIENTID``, ``FLYTE_ADMIN_CLIENTSECRETLOCATION``,
  ``FLYTE_ADMIN_CLIENTSECRETENVVAR``, ``FLYTE_ADMIN_HTTPPROXYURL``, ``FLYTE_ADMIN_DISABLEKEYRING``:
  the ``admin`` key of the same name (``FLYTE_ADMIN_<KEY IN UPPER CASE>``);
- ``FLYTE_AUTH_TYPE``, then ``FLYTE_ADMIN_AUTHTYPE``: ``admin.authType`` (the first one set wins);
- ``FLYTE_AUTH_COMMAND``, then ``FLYTE_ADMIN_COMMAND``: ``admin.command`` (shell words or a JSON list);
- ``FLYTE_AUTH_PROXY_COMMAND``, then ``FLYTE_ADMIN_PROXYCOMMAND``: ``admin.proxyCommand``;
- ``FLYTE_ADMIN_SCOPES``: ``admin.scopes`` (comma- or space-separated, or a JSON list);
- ``FLYTE_CONSOLE_ENDPOINT``: ``console.endpoint``;
- ``FLYTE_TASK_ORG``, ``FLYTE_TASK_PROJECT``, ``FLYTE_TASK_DOMAIN``: ``task.*``;
- ``FLYTE_IMAGE_BUILDER``, ``FLYTE_IMAGE_REGISTRY``: ``image.*``;
- ``FLYTE_IMAGE_IMAGE_REFS``: ``image.image_refs`` (a JSON object or ``name=ref,name2=ref2``);
- ``FLYTE_LOCAL_PERSISTENCE``, ``FLYTE_LOCAL_TRACKED``, ``FLYTE_LOCAL_TRACKED_STRICT``: ``local.*``.

Booleans accept ``true/false``, ``yes/no``, ``on/off`` and ``1/0``.

Files written by :func:`write_config` have the layout of ``flyte create config``: sorted keys,
the endpoint as ``dns:///host[:port]``, ``image.builder`` always present.

Stricter than Flyte 2 on purpose: a file that is not valid YAML, or a value of the wrong type
(``project: yes`` reads as a boolean), raises :class:`~flyte.errors.InitializationError` naming
the file and key instead of being ignored, and boolean variables are parsed rather than kept
as strings. Step 3 of the search needs ``git`` on ``PATH``; without it the step is skipped.

Example:
    >>> import flyte.config
    >>> cfg = flyte.config.auto()  # doctest: +SKIP
    >>> cfg.task.project, cfg.source  # doctest: +SKIP
    ('flytesnacks', PosixPath('.flyte/config.yaml'))
    >>> flyte.config.config_to_init_kwargs(cfg)  # doctest: +SKIP
    {'endpoint': 'dns:///flyte.example.com', 'project': 'flytesnacks', ...}
"""

from __future__ import annotations

from flyte.config._config import (
    AuthType,
    Config,
    ImageConfig,
    LocalConfig,
    PlatformConfig,
    TaskConfig,
    config_to_init_kwargs,
)
from flyte.config._reader import (
    CONFIG_FILE_ENV_VARS,
    ENV_OVERRIDES,
    ConfigFile,
    auto,
    find_config_file,
    get_config_file,
    set_if_exists,
)
from flyte.config._writer import normalize_endpoint, org_from_endpoint, write_config

__all__ = [
    "CONFIG_FILE_ENV_VARS",
    "ENV_OVERRIDES",
    "AuthType",
    "Config",
    "ConfigFile",
    "ImageConfig",
    "LocalConfig",
    "PlatformConfig",
    "TaskConfig",
    "auto",
    "config_to_init_kwargs",
    "find_config_file",
    "get_config_file",
    "normalize_endpoint",
    "org_from_endpoint",
    "set_if_exists",
    "write_config",
]
