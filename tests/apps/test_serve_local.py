"""``flyte serve --local`` and ``flyte.serve`` in local mode: the app runs here and answers on its URL.

Also the one-line errors of ``flyte serve`` for bad input, and of the app types for bad values.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from tests.e2e.helpers import free_port

import flyte
import flyte.app
from flyte.cli.main import flyte_group

PROGRAMS = Path(__file__).parent / "programs"


def _flyte(*args: str, cwd: Path) -> Result:
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(flyte_group, list(args), prog_name="flyte", catch_exceptions=False)
    finally:
        os.chdir(previous)


def _answered(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def _serve_local(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``flyte serve --local ARGS`` in the programs folder; the process and the URL it printed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["HOME"] = str(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "flyte", "serve", "--local", *args],
        cwd=PROGRAMS,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    # Printed once the app answers (the app's own output, which shares stdout, may come first).
    line = next((line for line in iter(process.stdout.readline, "") if line.startswith("App ")), "")
    return process, line.strip()


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)  # like Ctrl-C: the app is stopped too
    code = process.wait(timeout=60)
    assert process.stdout is not None
    process.stdout.close()
    return code


def test_flyte_serve_local_prints_the_url_the_app_answers_on(tmp_path: Path) -> None:
    port = free_port()
    process, line = _serve_local(tmp_path, "--port", str(port), "sdk_apps.py", "web")
    try:
        assert line == f"App sdk-web is served at http://localhost:{port}", line
        url = line.split(" at ", 1)[1]
        answer = httpx.get(url, timeout=30).json()
        # A FastAPI app is served by the flyte process itself (as in Flyte 2).
        assert answer["app"] == "ours" and answer["mode"] == "local" and answer["pid"] == process.pid
        assert httpx.get(f"{url}/params", timeout=30).json() == {"greeting": "hi", "env": "hi", "label": "plain"}
    finally:
        code = _stop(process)
    assert code == 0
    assert not _answered(f"http://127.0.0.1:{port}/")


def test_flyte_serve_hello_serves_the_example_app(tmp_path: Path) -> None:
    port = free_port()
    process, line = _serve_local(tmp_path, "--port", str(port), "hello")
    try:
        assert line == f"App hello is served at http://localhost:{port}", line
        answer = httpx.get(f"http://localhost:{port}/", timeout=30).json()
        assert answer == {"message": "Hello from a Flyte app!", "mode": "local"}
    finally:
        assert _stop(process) == 0


def test_local_serve_of_a_command_app_with_overridden_parameters(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("served by http.server")
    port = free_port()
    files = flyte.app.AppEnvironment(
        name="local-files",
        args=["sh", "-c", f'exec python -m http.server {port} --bind 127.0.0.1 --directory "$FILES_DIR"'],
        port=port,
        # A command-line app reads its parameters from their environment variables.
        parameters=[flyte.app.Parameter(name="where", value="nowhere", env_var="FILES_DIR")],
    )
    handle = flyte.with_servecontext(mode="local", parameter_values={"local-files": {"where": str(tmp_path)}}).serve(
        files
    )
    try:
        assert handle.url == f"http://localhost:{port}" and handle.is_active()
        assert httpx.get(f"{handle.url}/index.html", timeout=30).text == "served by http.server"
    finally:
        handle.deactivate()
    assert handle.is_deactivated() and not _answered(f"http://127.0.0.1:{port}/")


BROKEN = {
    "no_apps.py": "X = 1\n",
    "syntax.py": "def broken(:\n",
    "two.py": textwrap.dedent(
        """
        import flyte.app
        a = flyte.app.AppEnvironment(name="app-a", args="true")
        b = flyte.app.AppEnvironment(name="app-b", args="true")
        """
    ),
    "dies.py": textwrap.dedent(
        f"""
        import flyte.app
        dies = flyte.app.AppEnvironment(name="dies", args=["python", "-c", "raise SystemExit(3)"], port={free_port()})
        """
    ),
}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["no_apps.py"], 1, "Error: no_apps.py defines no app; create one with flyte.app.AppEnvironment(name=...)"),
        (["syntax.py"], 1, "Error: Cannot load syntax.py: SyntaxError"),
        (["two.py"], 1, "Error: two.py defines several apps (app-a, app-b); name the one to serve"),
        (["two.py", "app-c"], 1, "Error: No app named 'app-c' in two.py (its apps: a, app-a, app-b, b)"),
        (["dies.py"], 1, "Error: app 'dies' exited with code 3 before answering on http://localhost:"),
        (
            ["two.py", "a", "--env-var", "NOEQUALS"],
            2,
            "Error: Invalid value for --env-var: 'NOEQUALS' is not KEY=VALUE",
        ),
        (["nofile.py"], 2, "Error: Invalid value for 'FILE': File 'nofile.py' does not exist."),
    ],
)
def test_flyte_serve_bad_input_is_one_line(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    for name, text in BROKEN.items():
        (tmp_path / name).write_text(text)
    result = _flyte("serve", "--local", *args, cwd=tmp_path)
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    if code == 1:
        assert result.stderr.count("\n") == 1


def test_port_without_local_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "two.py").write_text(BROKEN["two.py"])
    result = _flyte("serve", "--port", "9999", "two.py", "a", cwd=tmp_path)
    assert result.exit_code == 2 and "Error: --port applies to --local only" in result.stderr


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: flyte.app.AppEnvironment(name="Bad_Name"), "App name 'Bad_Name' must be lower-case"),
        (lambda: flyte.app.AppEnvironment(name="x", port=8012), "port 8012 is reserved"),
        (lambda: flyte.app.Scaling(replicas=(3, 1)), "replicas must be"),
        (lambda: flyte.app.Parameter(name="n", value=3), "parameter 'n': the value must be a str"),
        (lambda: flyte.app.RunOutput(type="string"), "RunOutput needs exactly one of run_name or task_name"),
        (lambda: flyte.app.Subdomain(), "Subdomain needs exactly one of app_name or function"),
    ],
)
def test_bad_app_values_fail_with_a_clear_error(make: object, error: str) -> None:
    with pytest.raises((ValueError, TypeError), match=error.replace("(", r"\(").replace(")", r"\)")):
        make()  # type: ignore[operator]
