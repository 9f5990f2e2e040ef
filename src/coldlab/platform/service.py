"""The local Lambda service: the registry's records wired to the environment pool.

Front doors (the gateway's Invoke API and control plane, function URLs) call this; it never imports them.
Code uploaded by CreateFunction/UpdateFunctionCode is written under the service's own temporary directory
and unpacked once per upload (every environment of that code shares the unpacked directory); all of it is
removed at close.
"""

from __future__ import annotations

import asyncio
import binascii
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from coldlab.config import FunctionConfig
from coldlab.errors import ColdlabError, InvalidParameterValue, TooManyRequests, UsageError
from coldlab.platform.code import CodePackage, load_code
from coldlab.platform.environment import Environment
from coldlab.platform.limits import KeepAlive
from coldlab.platform.pool import Pool, PoolEvent, Slot
from coldlab.platform.registry import (
    LATEST,
    Code,
    Function,
    Provisioned,
    Registry,
    Target,
    Version,
    code_facts,
)
from coldlab.platform.result import InvocationResult
from coldlab.platform.spec import FunctionSpec
from coldlab.platform.timeline import Timeline, census, is_report

RUNTIMES = ("provided.al2023", "provided.al2")
EVENT_MAX_AGE_S = 6 * 3600  # an Event invoke that keeps being throttled is retried for up to 6 h (serve §2.5)
LogSinks = Callable[[str], Callable[[str], None] | None]  # function name -> where its log lines go


class LambdaService:
    """Functions, versions, aliases and their environments, for `coldlab serve`."""

    def __init__(
        self,
        *,
        account_limit: int,
        keep_alive: KeepAlive | None = None,
        log_sinks: LogSinks = lambda name: None,
        on_event: Callable[[PoolEvent], None] | None = None,
    ) -> None:
        self.registry = Registry(account_limit=account_limit)
        self._log_sinks = log_sinks
        self.pool = Pool(
            self._make_env, account_limit=account_limit, keep_alive=keep_alive, on_event=on_event
        )
        self._on_event = on_event or (lambda event: None)
        self.timeline = Timeline(lambda: census(self.pool))  # sampled once a front door starts it
        self._dir = Path(tempfile.mkdtemp(prefix="coldlab-serve-"))
        self._packages: list[CodePackage] = []
        self._events: set[asyncio.Task[None]] = set()
        self.event_invokes = 0

    def _make_env(self, version: Version, initialization_type: str) -> Environment:
        name, sink = version.config.function_name, self._log_sinks(version.config.function_name)

        def tee(line: str) -> None:  # the dashboard shows each function's last REPORT lines
            if is_report(line):
                self.timeline.report(name, line)
            if sink is not None:
                sink(line)

        return Environment(
            version.config,
            log_sink=tee,
            initialization_type=initialization_type,
            log_format=version.log_format,
        )

    async def close(self) -> None:
        """Shut every environment down and remove the uploaded and unpacked code."""
        for task in list(self._events):
            task.cancel()
        await asyncio.gather(*list(self._events), return_exceptions=True)
        self.timeline.stop()
        await self.pool.close()
        for package in self._packages:
            package.cleanup()
        shutil.rmtree(self._dir, ignore_errors=True)

    # --- code ---------------------------------------------------------------------------------------

    def _unpack(self, path: Path) -> Code:
        """A directory is used in place; a zip is unpacked once, here, for all its environments."""
        sha256, size = code_facts(path)
        package = load_code(path)
        if package.extracted:
            self._packages.append(package)
        return Code(package.root, sha256, size)

    def _upload(self, zip_b64: object) -> Code:
        if not isinstance(zip_b64, str):
            raise InvalidParameterValue("coldlab serve takes Code.ZipFile (a zip, base64 in the JSON) only")
        try:
            data = binascii.a2b_base64(zip_b64)
        except binascii.Error as exc:
            raise InvalidParameterValue(f"Could not decode Code.ZipFile: {exc}") from exc
        path = self._dir / f"{uuid.uuid4().hex}.zip"
        path.write_bytes(data)
        try:
            return self._unpack(path)
        except UsageError as exc:  # not a zip, no bootstrap, unsafe entries: AWS says "could not unzip"
            raise InvalidParameterValue(f"Could not unzip uploaded file. {exc.message}") from exc
        finally:
            path.unlink(missing_ok=True)

    # --- functions from the command line or a template -------------------------------------------------

    async def add_spec(self, spec: FunctionSpec) -> Function:
        code = await asyncio.to_thread(self._unpack, spec.config.code)
        config = spec.config.with_changes(code=code.root, function_name=spec.name)
        function = self.registry.add(Version(LATEST, config, code, log_format=spec.log_format), spec=spec)
        self.registry.activate(function)
        if spec.reserved_concurrency is not None:
            self.put_reserved(spec.name, spec.reserved_concurrency)
        if spec.alias is not None:
            version = self.registry.publish(function)
            self.registry.create_alias(function, spec.alias, version.version)
            if spec.provisioned_concurrency:
                self.put_provisioned(spec.name, spec.alias, spec.provisioned_concurrency)
        return function

    # --- invoke -------------------------------------------------------------------------------------

    async def invoke(
        self, ref: str, payload: bytes, *, qualifier: str | None = None, client_context: str | None = None
    ) -> tuple[Target, InvocationResult]:
        target = self.registry.resolve(ref, qualifier)
        return target, await self.pool.invoke(target, payload, client_context=client_context)

    async def invoke_function(self, ref: str, payload: bytes) -> InvocationResult:
        """The shape function URLs call: a name (optionally `name:qualifier`) and the event."""
        return (await self.invoke(ref, payload))[1]

    def invoke_event(self, ref: str, payload: bytes, *, qualifier: str | None = None) -> Target:
        """Accept an Event invoke (202) and run it in the background; throttles are retried with backoff."""
        target = self.registry.resolve(ref, qualifier)
        self.event_invokes += 1

        async def run() -> None:
            delay, started = 1.0, time.monotonic()
            while True:
                try:
                    await self.pool.invoke(target, payload)
                    return
                except TooManyRequests:
                    if time.monotonic() - started + delay > EVENT_MAX_AGE_S:
                        return
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 300.0)
                except ColdlabError as exc:
                    self._on_event(
                        PoolEvent("event-failed", target.name, target.version.version, "", str(exc))
                    )
                    return

        task = asyncio.ensure_future(run())
        self._events.add(task)
        task.add_done_callback(self._events.discard)
        return target

    # --- control plane ----------------------------------------------------------------------------------

    async def create_function(self, body: Mapping[str, Any]) -> Function:
        name = _required(body, "FunctionName", str)
        _required(body, "Role", str)
        code_spec = _required(body, "Code", dict)
        runtime = body.get("Runtime", "provided.al2023")
        if runtime == "go1.x":
            raise InvalidParameterValue(
                "The runtime parameter of go1.x is no longer supported for creating or updating AWS Lambda "
                "functions. We recommend you use a supported runtime while creating or updating functions."
            )
        if runtime not in RUNTIMES:
            raise InvalidParameterValue(
                f"coldlab serve runs a bootstrap: use Runtime {' or '.join(RUNTIMES)}"
            )
        self.registry.check_free(name)
        code = await asyncio.to_thread(self._upload, code_spec.get("ZipFile"))
        config = _config(FunctionConfig.create(code.root, function_name=name), body)
        version = Version(
            LATEST,
            config,
            code,
            description=str(body.get("Description", "")),
            runtime=runtime,
            role=str(body["Role"]),
            log_format=_log_format(body, "text"),
        )
        function = self.registry.add(version)
        if body.get("Publish"):
            self.registry.publish(function)
        return function

    async def update_code(self, ref: str, body: Mapping[str, Any]) -> Function:
        function = self.registry.unqualified(ref)
        self.registry.begin_update(function)
        try:
            code = await asyncio.to_thread(self._upload, body.get("ZipFile"))
        except BaseException:
            function.updating = False
            raise
        self._change_latest(function, config=function.latest.config.with_changes(code=code.root), code=code)
        if body.get("Publish"):
            self.registry.publish(function)
        return function

    def update_configuration(self, ref: str, body: Mapping[str, Any]) -> Function:
        function = self.registry.unqualified(ref)
        self.registry.begin_update(function)
        try:
            latest = function.latest
            config = _config(latest.config, body)
            changes: dict[str, object] = {
                "config": config,
                "log_format": _log_format(body, latest.log_format),
            }
            for key, attr in (("Description", "description"), ("Role", "role"), ("Runtime", "runtime")):
                if key in body:
                    changes[attr] = str(body[key])
        except BaseException:
            function.updating = False
            raise
        self._change_latest(function, **changes)
        return function

    def _change_latest(self, function: Function, **changes: object) -> None:
        """A new `$LATEST` generation: its old environments finish what they run, then close."""
        latest = self.registry.replace_latest(function, **changes)
        self.pool.drain(function.name, keep=lambda slot: _keeps(slot, latest))

    def delete_function(self, ref: str, qualifier: str | None) -> None:
        function = self.registry.get(ref)
        if qualifier and qualifier != LATEST:
            self.registry.resolve(function.name, qualifier)
            if function.versions.pop(qualifier, None) is not None:
                self.pool.drain(function.name, keep=lambda slot: slot.version.version != qualifier)
            return
        self.registry.remove(function)
        self.pool.forget(function.name)
        self.timeline.forget(function.name)

    def put_reserved(self, ref: str, value: int) -> None:
        function = self.registry.unqualified(ref)
        self.registry.put_reserved(function, value)
        self.pool.set_reserved(function.name, value)

    def delete_reserved(self, ref: str) -> None:
        function = self.registry.unqualified(ref)
        function.reserved = None
        self.pool.set_reserved(function.name, None)

    def put_provisioned(self, ref: str, qualifier: str | None, requested: int) -> Provisioned:
        function = self.registry.get(ref)
        target = self.registry.provisioned_target(function, qualifier, putting=True)
        config = self.registry.put_provisioned(function, target, requested)

        def report(allocated: int, available: int, status: str, reason: str | None) -> None:
            if function.provisioned.get(target.qualifier) is not None and (
                function.provisioned[target.qualifier].last_modified == config.last_modified
            ):
                self.registry.update_provisioned(
                    function,
                    target.qualifier,
                    allocated=allocated,
                    available=available,
                    status=status,
                    status_reason=reason,
                )

        self.pool.provision(target, requested, report)
        return config

    def get_provisioned(self, ref: str, qualifier: str | None) -> Provisioned:
        function = self.registry.get(ref)
        target = self.registry.provisioned_target(function, qualifier, putting=False)
        return self.registry.provisioned(function, target.qualifier)

    def delete_provisioned(self, ref: str, qualifier: str | None) -> None:
        function = self.registry.get(ref)
        target = self.registry.provisioned_target(function, qualifier, putting=False)
        self.registry.provisioned(function, target.qualifier)
        function.provisioned.pop(target.qualifier)
        self.pool.unprovision(function.name, target.qualifier)


def _keeps(slot: Slot, latest: Version) -> bool:
    """Published versions and provisioned environments survive a change of `$LATEST`."""
    return slot.version.version != LATEST or slot.version.key == latest.key


def _required(body: Mapping[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if not isinstance(value, kind):
        raise InvalidParameterValue(
            f"1 validation error detected: Value null at '{key[0].lower()}{key[1:]}' "
            "failed to satisfy constraint: Member must not be null"
        )
    return value


def _log_format(body: Mapping[str, Any], default: str) -> str:
    logging = body.get("LoggingConfig")
    if isinstance(logging, dict) and "LogFormat" in logging:
        value = str(logging["LogFormat"])
        if value not in ("Text", "JSON"):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{value}' at 'loggingConfig.logFormat' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Text, JSON]"
            )
        return value.lower()
    return default


def _config(config: FunctionConfig, body: Mapping[str, Any]) -> FunctionConfig:
    """The FunctionConfig with the request's members applied; a bad value is a 400 naming it."""
    changes: dict[str, object] = {}
    for key, attr in (("MemorySize", "memory_mb"), ("Timeout", "timeout_s"), ("Handler", "handler")):
        if key in body:
            changes[attr] = body[key]
    if isinstance(body.get("Environment"), dict):
        changes["environment"] = dict(body["Environment"].get("Variables") or {})
    if isinstance(body.get("EphemeralStorage"), dict):
        changes["ephemeral_storage_mb"] = body["EphemeralStorage"].get("Size")
    if isinstance(body.get("Architectures"), list) and body["Architectures"]:
        changes["architecture"] = body["Architectures"][0]
    try:
        if "environment" in changes:
            changes["environment"] = MappingProxyType(dict(changes["environment"]))  # type: ignore[call-overload]
        return config.with_changes(**changes)
    except UsageError as exc:
        raise InvalidParameterValue(str(exc)) from exc
