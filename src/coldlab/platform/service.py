"""The local Lambda service: the registry's records wired to the environment pool.

Front doors (the gateway's Invoke API and control plane, function URLs) call this; it never imports them.
Code uploaded by CreateFunction/UpdateFunctionCode is written under the service's own temporary directory
and unpacked once per upload (every environment of that code shares the unpacked directory); all of it is
removed at close. The state database (coldlab.store) holds the durable Event queue and every invocation's
record; Event invokes are delivered by coldlab.platform.delivery.

Shutdown: `quiesce` stops taking Event invokes from the queue and lets what runs finish (up to a grace
period); `close` then cuts off the rest: a synchronous invoke still running is answered 500
ServiceException, a delivery still running stays in the queue (delivered again at the next start).
"""

from __future__ import annotations

import asyncio
import binascii
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from coldlab import scratch
from coldlab.config import FunctionConfig
from coldlab.errors import InvalidParameterValue, LambdaApiError, ResourceNotFound, UsageError
from coldlab.platform.code import CodePackage, load_code
from coldlab.platform.config_members import config_with_members, log_format_member, required_member
from coldlab.platform.delivery import Delivery
from coldlab.platform.emf_totals import EmfTotals
from coldlab.platform.environment import Environment
from coldlab.platform.limits import KeepAlive
from coldlab.platform.pool import Pool, PoolEvent, Slot
from coldlab.platform.recording import RecordedEnvironment, RecordSink, invocation_type
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
from coldlab.platform.served_layers import LayerStore
from coldlab.platform.spec import FunctionSpec
from coldlab.platform.timeline import Timeline, census, is_report
from coldlab.runtime.model import Outcome
from coldlab.store.db import StateDb
from coldlab.store.queue import QueuedEvent

RUNTIMES = ("provided.al2023", "provided.al2")
UPLOADS = "serve"  # the scratch kind of the uploads directory (coldlab.scratch names it after its owner)
LogSinks = Callable[[str], Callable[[str], None] | None]  # function name -> where its log lines go


class ServiceStopping(LambdaApiError):  # noqa: N818 (named after the AWS error it is sent as)
    """500 ServiceException: the server shut down before the invoke finished."""

    status, code, message_key = 500, "ServiceException", "Message"

    def body(self) -> dict[str, str]:
        return {"Type": "Service", "Message": self.message}


def cut_off() -> ServiceStopping:
    """What a synchronous caller gets when the server stops its environment mid-invoke."""
    return ServiceStopping("coldlab serve shut down before the invoke finished (its environment was stopped)")


class LambdaService:
    """Functions, versions, aliases and their environments, for `coldlab serve`."""

    def __init__(
        self,
        *,
        account_limit: int,
        state: StateDb,
        keep_alive: KeepAlive | None = None,
        log_sinks: LogSinks = lambda name: None,
        on_event: Callable[[PoolEvent], None] | None = None,
        retry_delay_scale: float = 1.0,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.registry = Registry(account_limit=account_limit)
        self._log_sinks = log_sinks
        self.pool = Pool(
            self._make_env, account_limit=account_limit, keep_alive=keep_alive, on_event=on_event
        )
        self._on_event = on_event or (lambda event: None)
        self.timeline = Timeline(lambda: census(self.pool))  # sampled once a front door starts it
        self.emf = EmfTotals()  # the metrics the functions' EMF lines carry
        scratch.remove_stale(UPLOADS)  # what a server killed with -9 left behind
        self._dir = scratch.make_dir(UPLOADS)
        self._packages: list[CodePackage] = []
        self.layers = LayerStore()  # each set of layers opened once, for all its environments
        self.state = state
        self.records = RecordSink(state.writer)
        self.delivery = Delivery(
            state,
            self._run_event,
            reserved=self._reserved,
            function_arn=self._qualified_arn,
            executed_version=self._executed_version,
            scale=retry_delay_scale,
            say=say,
        )
        self._say = say
        self.event_invokes = 0  # accepted by this server (the queue's counters span every run)
        self._inflight = 0  # invokes running (synchronous, URL and Event deliveries)
        self._closing = False

    def _make_env(self, version: Version, initialization_type: str) -> Environment:
        name, sink = version.config.function_name, self._log_sinks(version.config.function_name)

        def tee(line: str) -> None:  # the dashboard shows each function's last REPORT lines
            if is_report(line):
                self.timeline.report(name, line)
            if sink is not None:
                sink(line)

        return RecordedEnvironment(
            version.config,
            sink=self.records,
            log_sink=tee,
            initialization_type=initialization_type,
            log_format=version.log_format,
            layers=version.layers,
        )

    async def start(self) -> dict[str, int]:
        """Start delivering queued Event invokes (after the served functions were added). Returns the
        deliveries a crash of the previous server cut off, by function: they run again (duplicates)."""
        return await self.delivery.start()

    def queued_events(self) -> int:
        """Event invokes in the queue: waiting, running, or holding a record for their destination."""
        return sum(sum(states.values()) for states in self.delivery.queue.values())

    async def quiesce(self, grace_s: float, *, hurry: asyncio.Event | None = None) -> int:
        """Take no more events from the queue; wait up to `grace_s` (or until `hurry` is set) for running
        invokes. Returns how many still run (they are cut off by `close`)."""
        self.delivery.stop_claiming()
        deadline = time.monotonic() + grace_s
        while self._inflight and time.monotonic() < deadline and not (hurry is not None and hurry.is_set()):
            await asyncio.sleep(0.02)
        return self._inflight

    async def close(self) -> None:
        """Shut every environment down and remove the uploaded and unpacked code (the state database is
        the caller's: it is flushed here, closed there)."""
        self._closing = True
        await self.delivery.close()
        self.timeline.stop()
        await self.pool.close()
        self.records.close()
        for package in self._packages:
            package.cleanup()
        self.layers.cleanup()
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
        layers, refs = await asyncio.to_thread(self.layers.load_with_refs, spec.layers)
        config = spec.config.with_changes(code=code.root, function_name=spec.name)
        version = Version(
            LATEST, config, code, log_format=spec.log_format, layers=layers, layer_refs=refs
        )
        function = self.registry.add(version, spec=spec)
        self.delivery.revive(function.name)
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
        self,
        ref: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        request_id: str | None = None,
        on_response: Callable[[Outcome], None] | None = None,
    ) -> tuple[Target, InvocationResult]:
        target, run = self.start_invoke(
            ref, payload, qualifier=qualifier, client_context=client_context, request_id=request_id,
            on_response=on_response,
        )  # fmt: skip
        return target, await self.finished(run)

    def start_invoke(
        self,
        ref: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        request_id: str | None = None,
        on_response: Callable[[Outcome], None] | None = None,
    ) -> tuple[Target, asyncio.Task[InvocationResult]]:
        """Resolve the function, take an environment (or raise) and start the invoke in the pool's task; a
        front door that answers at `on_response` waits on nothing else (no task of its own per invoke)."""
        if self._closing:
            raise ServiceStopping("coldlab serve is shutting down")
        target = self.registry.resolve(ref, qualifier)
        run = self.pool.start(target, payload, request_id, client_context, on_response)
        self._inflight += 1
        run.add_done_callback(lambda task: self._invoke_done(target, task))
        return target, run

    def _invoke_done(self, target: Target, run: asyncio.Task[InvocationResult]) -> None:
        self._inflight -= 1
        if not run.cancelled() and run.exception() is None and run.result().emf:
            self.emf.add(target.name, run.result().emf)

    async def finished(self, run: asyncio.Task[InvocationResult]) -> InvocationResult:
        """The result of a started invoke; the invoke goes on if the caller is cancelled."""
        try:
            return await asyncio.shield(run)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closing and task is not None and not task.cancelling():  # the pool cut it off
                raise cut_off() from None
            raise

    async def invoke_function(self, ref: str, payload: bytes) -> InvocationResult:
        """The shape function URLs call: a name (optionally `name:qualifier`) and the event."""
        invocation_type.set("Url")  # this handler's own context: the record says who asked
        return (await self.invoke(ref, payload))[1]

    async def invoke_event(
        self, ref: str, payload: bytes, *, qualifier: str | None = None
    ) -> tuple[Target, str]:
        """Accept an Event invoke: committed to the queue before this returns (the caller answers 202);
        delivered by coldlab.platform.delivery. Returns the target and the request id it will run under."""
        if self._closing:
            raise ServiceStopping("coldlab serve is shutting down")
        target = self.registry.resolve(ref, qualifier)
        now = time.time()
        request_id = str(uuid.uuid4())
        await self.delivery.enqueue(QueuedEvent(request_id, target.name, target.qualifier, payload, now, now))
        self.event_invokes += 1
        return target, request_id

    async def _run_event(self, event: QueuedEvent) -> InvocationResult:
        invocation_type.set("Event")  # the delivery's own task context
        _, result = await self.invoke(
            event.function, event.payload, qualifier=event.qualifier, request_id=event.request_id
        )
        return result

    def _qualified_arn(self, name: str, qualifier: str) -> str:
        registry = self.registry
        return f"arn:aws:lambda:{registry.region}:{registry.account_id}:function:{name}:{qualifier}"

    def _reserved(self, name: str) -> int | None:
        try:
            return self.registry.get(name).reserved
        except ResourceNotFound:  # not served (yet): the invoke says so, and the event waits
            return None

    def _executed_version(self, name: str, qualifier: str) -> str:
        try:
            return self.registry.resolve(name, qualifier).version.version
        except ResourceNotFound:
            return qualifier

    # --- control plane ----------------------------------------------------------------------------------

    async def create_function(self, body: Mapping[str, Any]) -> Function:
        name = required_member(body, "FunctionName", str)
        required_member(body, "Role", str)
        code_spec = required_member(body, "Code", dict)
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
        layers, refs = (
            await asyncio.to_thread(self.layers.load_requested, body) if "Layers" in body else ((), ())
        )
        code = await asyncio.to_thread(self._upload, code_spec.get("ZipFile"))
        config = config_with_members(FunctionConfig.create(code.root, function_name=name), body)
        version = Version(
            LATEST,
            config,
            code,
            description=str(body.get("Description", "")),
            runtime=runtime,
            role=str(body["Role"]),
            log_format=log_format_member(body, "text"),
            layers=layers,
            layer_refs=refs,
        )
        function = self.registry.add(version)
        self.delivery.revive(function.name)
        if body.get("Publish"):
            self.registry.publish(function)
        return function

    async def update_code(self, ref: str, body: Mapping[str, Any]) -> Function:
        function = self.registry.unqualified(ref)
        self.registry.check_revision(function, body.get("RevisionId"))
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

    async def update_configuration(self, ref: str, body: Mapping[str, Any]) -> Function:
        function = self.registry.unqualified(ref)
        self.registry.check_revision(function, body.get("RevisionId"))
        self.registry.begin_update(function)
        try:
            latest = function.latest
            config = config_with_members(latest.config, body)
            changes: dict[str, object] = {
                "config": config,
                "log_format": log_format_member(body, latest.log_format),
            }
            for key, attr in (("Description", "description"), ("Role", "role"), ("Runtime", "runtime")):
                if key in body:
                    changes[attr] = str(body[key])
            if "Layers" in body:
                changes["layers"], changes["layer_refs"] = await asyncio.to_thread(
                    self.layers.load_requested, body
                )
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
        self.emf.forget(function.name)
        dropped = self.delivery.forget(function.name)
        if dropped:
            self._say(f"deleted {function.name}: {dropped} queued Event invokes dropped with it")

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
