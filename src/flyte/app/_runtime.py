"""``fserve``: start an app inside its process (``python -m flyte.app._runtime ARGS``).

The arguments are those PyPI flyte puts in an app's container command (``--version``,
``--project``, ``--domain``, ``--org``, ``--parameters``, ``--tgz``/``--pkl`` and ``--dest``,
``--raw-data-path``, ``--resolver``, ``--resolver-args``, then ``--`` and the app's own args).
The control plane tells the app where to listen with ``FLYTE_APP_HOST``/``FLYTE_APP_PORT``
(``PORT`` too); without them the app's declared port is used.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_env", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fserve", description="Serve a Flyte app")
    parser.add_argument("--version", default="")
    parser.add_argument("--project", default="")
    parser.add_argument("--domain", default="")
    parser.add_argument("--org", default="")
    parser.add_argument("--parameters", default=None)
    parser.add_argument("--tgz", default=None)
    parser.add_argument("--pkl", default=None)
    parser.add_argument("--dest", default=".")
    parser.add_argument("--raw-data-path", default="")
    parser.add_argument("--image-cache", default=None)
    parser.add_argument("--resolver", default=None)
    parser.add_argument("--resolver-args", default=None)
    return parser


def load_env(reference: str) -> Any:
    """The ``AppEnvironment`` named ``module:attribute``.

    Raises:
        ValueError: the reference is malformed or names nothing.
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--resolver-args must be module:attribute, got {reference!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError as e:
        raise ValueError(f"module {module_name!r} has no app {attribute!r}") from e


def _apply_parameters(encoded: str | None) -> None:
    from flyte.app._context import PARAMETERS_ENV
    from flyte.app._parameters import decode_parameters

    values: dict[str, str] = {}
    for item in decode_parameters(encoded) if encoded else []:
        value = str(item.get("value") or "")
        if value and item.get("download") and item.get("type") in ("file", "directory"):
            value = _download(value, item.get("type") == "directory", item.get("dest"))
        values[item["name"]] = value
        if item.get("env_var"):
            os.environ[str(item["env_var"])] = value
    os.environ[PARAMETERS_ENV] = json.dumps(values)


def _download(uri: str, directory: bool, dest: str | None) -> str:
    """The local path of a file or directory parameter: ``uri`` fetched to ``dest`` (or a temporary place)."""
    import tempfile

    import flyte.storage as storage

    if not storage.is_remote(uri):
        return uri
    target = dest or str(Path(tempfile.mkdtemp(prefix="flyte-app-")) / (Path(uri.rstrip("/")).name or "data"))
    try:
        from flyte._internal.syncify import run_sync

        return str(run_sync(storage.get(uri, target, recursive=directory)))
    except Exception as e:
        raise ValueError(f"cannot download the parameter value {uri}: {e}") from e


async def _call(func: Any, *args: Any) -> Any:
    result = func(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _serve_env(env: Any, host: str, port: int) -> int:
    app = getattr(env, "app", None)
    startup = getattr(env, "_on_startup", None)
    shutdown = getattr(env, "_on_shutdown", None)
    server = getattr(env, "_server", None)

    async def run() -> None:
        if startup is not None:
            await _call(startup)
        try:
            if app is not None:
                import uvicorn

                settings = getattr(env, "uvicorn_config", None)
                options: dict[str, Any] = {"log_level": "info"}
                if settings is not None:
                    options["log_level"] = getattr(settings, "log_level", "info")
                config = uvicorn.Config(app, host=host, port=port, **options)
                await uvicorn.Server(config).serve()
            elif server is not None:
                parameters = inspect.signature(server).parameters
                kwargs = {k: v for k, v in (("host", host), ("port", port)) if k in parameters}
                await _call(lambda: server(**kwargs))
            else:
                raise ValueError(f"app {env.name!r} has neither args, a FastAPI app nor a @server function")
        finally:
            if shutdown is not None:
                await _call(shutdown)

    asyncio.run(run())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args, _unknown = _parser().parse_known_args(argv)
    os.environ.setdefault("FLYTE_INTERNAL_EXECUTION_PROJECT", args.project)
    os.environ.setdefault("FLYTE_INTERNAL_EXECUTION_DOMAIN", args.domain)
    os.environ.setdefault("FLYTE_APP_RAW_DATA_PATH", args.raw_data_path)
    try:
        _apply_parameters(args.parameters)
    except ValueError as e:
        print(f"fserve: {e}", file=sys.stderr)
        return 2
    from flyte._internal.runtime.bundle import add_sys_path, download_tgz

    destination = Path(args.dest).resolve()
    if args.pkl:
        print(
            "fserve: apps cannot be served from a pickled code bundle (--pkl); deploy them from a file", file=sys.stderr
        )
        return 2
    if args.tgz:
        try:
            asyncio.run(download_tgz(args.tgz, destination))
        except Exception as e:
            print(f"fserve: cannot download the code bundle {args.tgz}: {e}", file=sys.stderr)
            return 2
    add_sys_path(destination, os.environ.get("_F_SYS_PATH"))
    host = os.environ.get("FLYTE_APP_HOST", "127.0.0.1")
    env = None
    if args.resolver_args:
        try:
            env = load_env(args.resolver_args)
        except (ImportError, ValueError) as e:
            print(f"fserve: cannot load the app {args.resolver_args!r}: {e}", file=sys.stderr)
            return 2
    declared = env.get_port().port if env is not None and hasattr(env, "get_port") else 8080
    port = int(os.environ.get("FLYTE_APP_PORT") or declared)
    os.environ["PORT"] = str(port)
    if extra and (env is None or (getattr(env, "app", None) is None and getattr(env, "_server", None) is None)):
        # A command-line app (args): it listens where it says; its declared port becomes ours.
        command = [str(port) if token == str(declared) else token for token in extra]
        command = [
            f"{token.rsplit(':', 1)[0]}:{port}" if token.endswith(f":{declared}") else token for token in command
        ]
        sys.stdout.flush()
        os.execvp(command[0], command)
    if env is None:
        print("fserve: no app given (--resolver-args module:attribute)", file=sys.stderr)
        return 2
    return _serve_env(env, host, port)


if __name__ == "__main__":
    raise SystemExit(main())
