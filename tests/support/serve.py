"""`coldlab serve` as a subprocess for tests and benchmarks: start it on port 0, read its lines, stop it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

_LISTENING = re.compile(r"^coldlab serve: listening on (http://\S+)$")
COLDLAB = [sys.executable, "-c", "from coldlab.cli import main; main()"]


class ServeProcess:
    """A running `coldlab serve ARGS --port 0`; `url` once it listens; `lines` is everything on stderr.

    Without `--state-dir` in ARGS it gets a temporary one of its own (removed by `stop`), so tests never
    share, lock or write the user's ~/.cache/coldlab/serve."""

    def __init__(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self._own_state: str | None = None
        if "--state-dir" not in args:
            self._own_state = tempfile.mkdtemp(prefix="coldlab-test-state-")
            args = ("--state-dir", self._own_state, *args)  # in front: callers read their last argument
        self.args = [*COLDLAB, "serve", "--port", "0", *args]
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self._listening = threading.Event()
        self.url = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.rstrip("\n")
            self.lines.append(line)
            match = _LISTENING.match(line)
            if match:
                self.url = match.group(1)
                self._listening.set()
        self._listening.set()

    def wait_listening(self, timeout_s: float = 60.0) -> str:
        self._listening.wait(timeout_s)
        if not self.url:
            self.stop()
            raise AssertionError("coldlab serve did not start:\n" + "\n".join(self.lines))
        return self.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_coldlab/status", timeout=10) as response:
            document: dict[str, Any] = json.load(response)
        return document

    def function(self, name: str) -> dict[str, Any]:
        for function in self.status()["functions"]:
            if function["name"] == name:
                return dict(function)
        raise KeyError(name)

    def wait_for(self, predicate: Any, what: str, timeout_s: float = 30.0) -> Any:
        """Poll `predicate()` until it is truthy (never a wall-clock assertion: the deadline is a safety net)."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(5)
        if self._own_state is not None:
            shutil.rmtree(self._own_state, ignore_errors=True)
        return code

    def __enter__(self) -> ServeProcess:
        self.wait_listening()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def code_dir(bootstrap: Path, dest: Path) -> Path:
    """A code directory named `dest` (the function's name when served by path) holding `bootstrap`."""
    dest.mkdir(parents=True)
    shutil.copy2(bootstrap, dest / "bootstrap")  # not a symlink: the sandbox sees only the code directory
    return dest


def zip_bootstrap(bootstrap: Path, dest: Path) -> bytes:
    """A Lambda deployment zip holding `bootstrap` (mode 755) at its root; its bytes."""
    import zipfile

    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o100755 << 16
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(info, bootstrap.read_bytes())
    return dest.read_bytes()


def aws_env(tmp: Path) -> dict[str, str]:
    """Dummy credentials and config files in the test's own directory (nothing read from or written to ~)."""
    config, credentials = tmp / "aws-config", tmp / "aws-credentials"
    config.write_text("[default]\nregion = us-east-1\n")
    credentials.write_text("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    return {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",  # a throttle must reach the test, not be retried away
        "AWS_RETRY_MODE": "standard",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }


def lambda_client(url: str, read_timeout_s: int = 60) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"total_max_attempts": 1}, read_timeout=read_timeout_s, max_pool_connections=64
        ),
    )
