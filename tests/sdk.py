"""Real SDK clients, each in its own cached virtualenv, driven as subprocesses.

Several `langfuse` major versions cannot share one environment, so each gets a virtualenv
under ~/.cache/tracemark/sdk-venvs (kept between runs; created on first use from the package
registry). Test scripts run there and print JSON on their last line.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path
from typing import Any

CACHE = Path(os.environ.get("TM_SDK_VENVS", Path.home() / ".cache" / "tracemark" / "sdk-venvs"))

LANGFUSE_5 = ("langfuse==5.0.4",)
LANGFUSE_4 = ("langfuse==4.18.0",)
LANGFUSE_3 = ("langfuse==3.15.0",)
LANGFUSE_2 = ("langfuse==2.60.10",)
OTEL = (
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-exporter-otlp-proto-http==1.45.2",
)


def venv_python(requirements: tuple[str, ...]) -> Path:
    """The python of a virtualenv with exactly `requirements` installed (built once)."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    name = "-".join(r.split("==")[0].split("[")[0] for r in requirements[:1]) + "-" + key
    path = CACHE / name
    python = path / "bin" / "python"
    marker = path / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(path)
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    *requirements,
                ],
                check=True,
            )
            marker.write_text("\n".join(requirements))
    return python


def run_script(
    requirements: tuple[str, ...], script: str, env: dict[str, str], timeout: float = 120
) -> Any:
    """Run `script` in the SDK's virtualenv; return the JSON it prints on its last line."""
    python = venv_python(requirements)
    clean_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "OTEL_", "TRACEMARK_"))
    }
    clean_env.update(env)
    result = subprocess.run(
        [str(python), "-c", textwrap.dedent(script)],
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"SDK script failed ({result.returncode}):\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    lines = [line for line in result.stdout.strip().splitlines() if line.strip()]
    if not lines:
        raise AssertionError(f"SDK script printed nothing; stderr:\n{result.stderr}")
    return json.loads(lines[-1])


if __name__ == "__main__":  # build every venv ahead of time: python -m tests.sdk
    for reqs in (LANGFUSE_5, LANGFUSE_4, LANGFUSE_2, OTEL):
        print(venv_python(reqs), file=sys.stderr)
