"""AWS backend: tune a real Lambda function through boto3 (extra `aws`).

Per memory size: UpdateFunctionConfiguration(MemorySize), wait until the update is done, invoke with
LogType=Tail and parse REPORT from the log tail. The original memory size (and environment, if `--cold`
changed it to force fresh environments) is restored on exit, even on error or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from coldlab.errors import ColdlabError, UsageError
from coldlab.tune.backends import Progress, Sample, SizeWork, split_round_robin
from coldlab.tune.backends.report_line import parse_report

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

NONCE_VAR = "COLDLAB_TUNE_NONCE"  # changing an environment variable forces Lambda to use fresh environments
_USAGE_CODES = {
    "ResourceNotFoundException",
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidParameterValueException",
}


class AwsError(ColdlabError):
    """AWS Lambda refused or failed an operation the tuner needed."""


@contextmanager
def _aws_errors(function_name: str, action: str) -> Iterator[None]:
    """Turn botocore's exceptions into one-line coldlab errors (exit 2 for credentials/target problems)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise UsageError(
            f"AWS credentials not found while trying to {action}",
            "configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
        ) from exc
    except NoRegionError as exc:
        raise UsageError(
            "no AWS region given", "use --target aws:FUNCTION:REGION or set AWS_DEFAULT_REGION"
        ) from exc
    except EndpointConnectionError as exc:
        raise UsageError(
            f"cannot reach the AWS Lambda endpoint to {action}: {exc}",
            "check the region, --endpoint-url and the network",
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = f"AWS Lambda refused to {action} for {function_name!r}: {code}: {error.get('Message', '')}"
        if code in _USAGE_CODES:
            raise UsageError(message, "check the function name, region and IAM permissions") from exc
        raise AwsError(message) from exc
    except BotoCoreError as exc:
        raise AwsError(f"AWS call failed while trying to {action}: {exc}") from exc


def make_client(region: str | None, endpoint_url: str | None, timeout_s: int) -> LambdaClient:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise UsageError(
            "the AWS backend needs boto3", "install it with: pip install 'coldlab[aws]'"
        ) from exc
    config = Config(
        connect_timeout=5,
        read_timeout=timeout_s + 60,  # an invoke may legitimately take the whole function timeout
        retries={"max_attempts": 2, "mode": "standard"},
    )
    with _aws_errors("?", "create the Lambda client"):
        return boto3.client("lambda", region_name=region, endpoint_url=endpoint_url, config=config)


class AwsBackend:
    """Tunes `$LATEST` of a real function in place, restoring its configuration when done."""

    name = "aws"

    def __init__(
        self,
        function_name: str,
        client: LambdaClient,
        *,
        poll_interval_s: float = 1.0,
        update_timeout_s: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.function_name = function_name
        self.client = client
        self.poll_interval_s = poll_interval_s
        self.update_timeout_s = update_timeout_s
        self._sleep = sleep
        self.original_memory_mb: int | None = None
        self.original_environment: dict[str, str] | None = None
        self.architecture = "x86_64"
        self._environment_changed = False
        self._memory_changed = False
        self.restored = False

    # --- setup and restore -------------------------------------------------------------------------

    async def __aenter__(self) -> AwsBackend:
        with _aws_errors(self.function_name, "read the function configuration"):
            config = self.client.get_function_configuration(FunctionName=self.function_name)
        self.original_memory_mb = int(config["MemorySize"])
        self.original_environment = dict(config.get("Environment", {}).get("Variables", {}))
        self.architecture = (config.get("Architectures") or ["x86_64"])[0]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Synchronous on purpose: a cancelled task (Ctrl-C) must not be able to interrupt the restore.
        self.restore()

    def restore(self) -> None:
        """Put back the memory size (and environment) the function had before tuning."""
        if self.restored or not (self._memory_changed or self._environment_changed):
            self.restored = True
            return
        params: dict[str, Any] = {"FunctionName": self.function_name}
        if self._memory_changed and self.original_memory_mb is not None:
            params["MemorySize"] = self.original_memory_mb
        if self._environment_changed:
            params["Environment"] = {"Variables": self.original_environment or {}}
        with _aws_errors(self.function_name, "restore the original configuration"):
            self.client.update_function_configuration(**params)
            self._wait_updated()
        self.restored = True

    def _wait_updated(self) -> None:
        """Poll until the last configuration update is done (what waiter function_updated_v2 does)."""
        deadline = time.monotonic() + self.update_timeout_s
        while True:
            config = self.client.get_function_configuration(FunctionName=self.function_name)
            status = config.get("LastUpdateStatus", "Successful")
            if status == "Successful" and config.get("State", "Active") == "Active":
                return
            if status == "Failed":
                reason = config.get("LastUpdateStatusReason", "no reason given")
                raise AwsError(f"updating {self.function_name!r} failed: {reason}")
            if time.monotonic() > deadline:
                raise AwsError(
                    f"{self.function_name!r} was still updating after {self.update_timeout_s:.0f} s"
                )
            self._sleep(self.poll_interval_s)

    def _update(self, **params: Any) -> None:
        with _aws_errors(self.function_name, "update the function configuration"):
            self.client.update_function_configuration(FunctionName=self.function_name, **params)
            self._wait_updated()

    # --- measuring ---------------------------------------------------------------------------------

    def fidelity(self, memory_mb: int) -> dict[str, Any]:
        # Another endpoint (coldlab serve, an emulator) is not AWS: say whose figures these are.
        endpoint = str(self.client.meta.endpoint_url)
        host = urlsplit(endpoint).hostname or ""
        real = host.endswith(".amazonaws.com")
        label = "aws-lambda (real)" if real else f"lambda api at {endpoint} (not AWS)"
        return {
            "cpu": label,
            "memory": label,
            "freeze": label,
            "architecture": self.architecture,
            "notes": [],
        }

    def tail_seen(self, tail: str) -> None:
        """Each invoke's decoded log tail; a hook for callers that read more than REPORT (anatomy)."""

    def _invoke(self, payload: bytes, memory_mb: int, index: int) -> Sample:
        with _aws_errors(self.function_name, "invoke the function"):
            response = self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="RequestResponse",
                LogType="Tail",
                Payload=payload,
            )
            response["Payload"].read()
        tail = base64.b64decode(response.get("LogResult", "") or "").decode("utf-8", "replace")
        self.tail_seen(tail)
        report = parse_report(tail)
        function_error = response.get("FunctionError")
        if report is None:
            raise AwsError(
                f"no REPORT line in the log tail of {self.function_name!r} at {memory_mb} MB",
                "the function must log in text or JSON format to CloudWatch (LogType=Tail)",
            )
        status = report.status or ("error" if function_error else "success")
        if status not in ("success", "timeout"):
            status = "error"
        return Sample(
            memory_mb=memory_mb,
            cold=report.init_duration_ms is not None,
            status=status,
            duration_ms=report.duration_ms,
            billed_duration_ms=report.billed_duration_ms,
            init_duration_ms=report.init_duration_ms,
            max_memory_used_mb=report.max_memory_used_mb,
            error_type=(report.error_type or function_error) if status != "success" else None,
            event_index=index,
        )

    def _force_fresh_environments(self) -> None:
        variables = dict(self.original_environment or {})
        variables[NONCE_VAR] = uuid.uuid4().hex[:12]
        self._environment_changed = True
        self._update(Environment={"Variables": variables})

    async def measure(self, work: SizeWork, progress: Progress) -> list[Sample]:
        samples: list[Sample] = []

        def record(sample: Sample) -> None:
            samples.append(sample)
            progress(sample)

        self._memory_changed = True
        await asyncio.to_thread(self._update, MemorySize=work.memory_mb)
        # A configuration change retires the old environments: the next invoke is cold.
        record(await asyncio.to_thread(self._invoke, work.event(0), work.memory_mb, 0))
        for n in range(1, work.cold):
            await asyncio.to_thread(self._force_fresh_environments)
            index = n % len(work.events) if work.events else 0
            record(await asyncio.to_thread(self._invoke, work.event(index), work.memory_mb, index))

        async def lane(items: list[tuple[int, bytes]]) -> None:
            for index, payload in items:
                record(await asyncio.to_thread(self._invoke, payload, work.memory_mb, index))

        if work.events:
            lanes = split_round_robin(work.events, min(work.parallel, len(work.events)))
            await asyncio.gather(*(lane(items) for items in lanes))
        return samples

