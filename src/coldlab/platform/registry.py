"""The control plane's records: functions, their versions and aliases, concurrency and provisioned configs.

Pure bookkeeping (no processes): `coldlab.platform.service` wires it to the environment pools, and the
gateway renders its values as the Lambda API's JSON. Names and messages follow reference serve §2.

State machine (serve §2.3): a create answers `State: Pending` and an update `LastUpdateStatus: InProgress`,
as AWS's do; the work (unpacking and checking the code) is done before that answer, so the next read says
`Active` / `Successful` and boto3's and the CLI's `function_active` / `function_updated` waiters end at their
first poll. A second update while one is unpacking is refused with 409, as AWS refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from coldlab.config import FunctionConfig
from coldlab.errors import (
    InvalidParameterValue,
    PreconditionFailed,
    ProvisionedConcurrencyConfigNotFound,
    ResourceConflict,
    ResourceNotFound,
)
from coldlab.platform.spec import FunctionSpec

LATEST = "$LATEST"
UNRESERVED_MIN = 100  # of AWS's 1,000: at least this many stay unreserved (serve §2.4)
_ARN = re.compile(
    r"^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:function:)?([A-Za-z0-9_-]{1,64})(?::([^:]+))?$"
)
_ALIAS = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}$")


def _now() -> str:
    """FunctionConfiguration.LastModified is a string in this exact shape (serve §2.2)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())


@dataclass(frozen=True)
class Code:
    """One upload of code: `config.code` points at `root` (a directory holding `bootstrap`)."""

    root: Path
    sha256: str  # base64, as CodeSha256
    size: int


def code_facts(path: Path) -> tuple[str, int]:
    """CodeSha256 and CodeSize of a zip, or of the bootstrap when the code is a directory."""
    target = path / "bootstrap" if path.is_dir() else path
    data = target.read_bytes()
    return base64.b64encode(hashlib.sha256(data).digest()).decode(), len(data)


@dataclass(frozen=True)
class Version:
    """`$LATEST` (changes in place: each change bumps `generation`) or a published, immutable version."""

    version: str
    config: FunctionConfig
    code: Code
    generation: int = 0  # environments of an older generation are drained
    description: str = ""
    runtime: str = "provided.al2023"
    role: str = "arn:aws:iam::123456789012:role/coldlab"
    log_format: str = "text"
    layers: tuple[Path, ...] = ()  # the merged /opt of its layers (one directory), or none
    layer_refs: tuple[tuple[str, int], ...] = ()  # each layer as given, with its size (GetFunction's Layers)
    last_modified: str = field(default_factory=_now)
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def key(self) -> tuple[str, str, int]:
        """Which environments may serve it: same function, version and generation."""
        return (self.config.function_name, self.version, self.generation)


@dataclass(frozen=True)
class Alias:
    name: str
    function_version: str
    description: str = ""
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Provisioned:
    """A ProvisionedConcurrencyConfig on one qualifier (an alias or a published version)."""

    qualifier: str
    version: str  # the version the qualifier pointed at when the config was put
    requested: int
    allocated: int = 0
    available: int = 0
    status: str = "IN_PROGRESS"  # IN_PROGRESS | READY | FAILED
    status_reason: str | None = None
    last_modified: str = field(default_factory=_now)


@dataclass(frozen=True)
class Target:
    """What an invoke resolved to: the function, the qualifier asked for and the version it runs."""

    name: str
    qualifier: str  # "$LATEST", "3" or an alias name
    version: Version


@dataclass
class Function:
    """The mutable record of one function (its values are frozen; the record swaps them)."""

    name: str
    latest: Version
    state: str = "Pending"
    last_update: str = "Successful"
    last_update_reason: str | None = None
    versions: dict[str, Version] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    reserved: int | None = None
    provisioned: dict[str, Provisioned] = field(default_factory=dict)
    spec: FunctionSpec | None = None
    updating: bool = False
    next_version: int = 1

    def arn(self, qualifier: str | None = None) -> str:
        base = self.latest.config.function_arn
        return f"{base}:{qualifier}" if qualifier else base


def parse_ref(ref: str, qualifier: str | None = None) -> tuple[str, str | None]:
    """A name, partial ARN or full ARN (optionally `:qualifier`) → (name, qualifier)."""
    match = _ARN.match(ref)
    if match is None:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{ref}' at 'functionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
            "([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    name, derived = match.group(1), match.group(2)
    if derived and qualifier and derived != qualifier:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return name, derived or qualifier


class Registry:
    """Every function the server hosts, by name. `account_limit` bounds reserved concurrency."""

    def __init__(
        self, *, account_limit: int, region: str = "us-east-1", account_id: str = "123456789012"
    ) -> None:
        self.account_limit = account_limit
        self.region = region
        self.account_id = account_id
        self._functions: dict[str, Function] = {}

    def __iter__(self) -> Iterator[Function]:
        return iter(sorted(self._functions.values(), key=lambda f: f.name))

    def __len__(self) -> int:
        return len(self._functions)

    @property
    def unreserved_min(self) -> int:
        """AWS keeps 100 of 1,000 unreserved; a smaller local account keeps the same tenth."""
        return min(UNRESERVED_MIN, self.account_limit // 10)

    def _not_found(self, name: str, qualifier: str | None = None) -> ResourceNotFound:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return ResourceNotFound(
            f"Function not found: {arn}:{qualifier}" if qualifier else f"Function not found: {arn}"
        )

    def get(self, ref: str, qualifier: str | None = None) -> Function:
        name, _ = parse_ref(ref, qualifier)
        function = self._functions.get(name)
        if function is None:
            raise self._not_found(name)
        return function

    def unqualified(self, ref: str) -> Function:
        """For operations on the function as a whole (reserved concurrency, update, publish)."""
        name, qualifier = parse_ref(ref)
        if qualifier is not None:
            raise InvalidParameterValue(
                "This operation is permitted on Lambda functions only. Aliases and versions do not support "
                "this operation. Please specify either a function name or an unqualified function ARN."
            )
        return self.get(name)

    def resolve(self, ref: str, qualifier: str | None = None) -> Target:
        name, qualifier = parse_ref(ref, qualifier)
        function = self._functions.get(name)
        if function is None:
            raise self._not_found(name, qualifier)
        if qualifier is None or qualifier == LATEST:
            return Target(name, LATEST, function.latest)
        version = function.versions.get(qualifier)
        if version is None and qualifier in function.aliases:
            pointed = function.aliases[qualifier].function_version
            version = function.latest if pointed == LATEST else function.versions.get(pointed)
        if version is None:
            raise self._not_found(name, qualifier)
        return Target(name, qualifier, version)

    # --- lifecycle -----------------------------------------------------------------------------------

    def check_free(self, name: str) -> None:
        if name in self._functions:
            raise ResourceConflict(f"Function already exist: {name}")

    def add(self, latest: Version, *, spec: FunctionSpec | None = None) -> Function:
        """A new function (CreateFunction or a served spec); 409 when the name is taken."""
        name = latest.config.function_name
        self.check_free(name)
        function = Function(name=name, latest=latest, spec=spec)
        self._functions[name] = function
        return function

    def activate(self, function: Function) -> None:
        """The create's or update's work is done (see the module docstring)."""
        function.state = "Active"
        function.last_update = "Successful"
        function.last_update_reason = None
        function.updating = False

    def check_revision(self, function: Function, revision_id: object) -> None:
        """A request that names the RevisionId it read must find `$LATEST` unchanged since (412 if not)."""
        if revision_id is not None and revision_id != function.latest.revision_id:
            raise PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
            )

    def begin_update(self, function: Function) -> None:
        if function.updating or function.state == "Pending":
            raise ResourceConflict(
                "The operation cannot be performed at this time. An update is in progress for resource: "
                f"{function.arn()}"
            )
        function.updating = True

    def replace_latest(self, function: Function, **changes: object) -> Version:
        """A changed `$LATEST`: a new generation, so its old environments drain."""
        latest = replace(
            function.latest,
            generation=function.latest.generation + 1,
            last_modified=_now(),
            revision_id=str(uuid.uuid4()),
            **changes,  # type: ignore[arg-type]
        )
        function.latest = latest
        function.last_update = "InProgress"
        return latest

    def remove(self, function: Function) -> None:
        self._functions.pop(function.name, None)

    def publish(self, function: Function, description: str = "") -> Version:
        """A published version: a snapshot of `$LATEST` (the same code; the number counts up)."""
        latest = function.latest
        for existing in function.versions.values():  # AWS returns the last version when nothing changed
            same_config = existing.config == latest.config.with_changes(version=existing.version)
            same_code = existing.code.sha256 == latest.code.sha256 and existing.layers == latest.layers
            if same_code and same_config:
                return existing
        number = str(function.next_version)
        function.next_version += 1
        version = replace(
            latest,
            version=number,
            config=latest.config.with_changes(version=number),
            description=description or latest.description,
            generation=0,
            revision_id=str(uuid.uuid4()),
        )
        function.versions[number] = version
        return version

    def create_alias(
        self, function: Function, name: str, function_version: str, description: str = ""
    ) -> Alias:
        if not _ALIAS.match(name):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member "
                "must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
            )
        if function_version != LATEST and function_version not in function.versions:
            raise self._not_found(function.name, function_version)
        if name in function.aliases:
            raise ResourceConflict(f"Alias already exists: {function.arn(name)}")
        alias = Alias(name, function_version, description)
        function.aliases[name] = alias
        return alias

    def alias(self, function: Function, name: str) -> Alias:
        alias = function.aliases.get(name)
        if alias is None:
            raise ResourceNotFound(f"Cannot find alias arn: {function.arn(name)}")
        return alias

    # --- concurrency -------------------------------------------------------------------------------

    def put_reserved(self, function: Function, value: int) -> None:
        others = sum(f.reserved or 0 for f in self._functions.values() if f is not function)
        if value < 0 or self.account_limit - others - value < self.unreserved_min:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{self.unreserved_min}]."
            )
        function.reserved = value

    def provisioned_target(self, function: Function, qualifier: str | None, *, putting: bool) -> Target:
        """The alias or published version a provisioned config applies to (never `$LATEST`)."""
        if qualifier is None or qualifier == LATEST:
            raise InvalidParameterValue(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
                if putting
                else "The function resource provided must be an alias or a published version."
            )
        target = self.resolve(function.name, qualifier)
        if target.version.version == LATEST:
            raise InvalidParameterValue(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
            )
        if putting:
            for other, config in function.provisioned.items():
                if other != qualifier and config.version == target.version.version:
                    raise ResourceConflict(
                        "Alias can't be used for Provisioned Concurrency configuration on an already "
                        "Provisioned version"
                        if qualifier in function.aliases
                        else "Version is pointed by a Provisioned Concurrency alias"
                    )
        return target

    def put_provisioned(self, function: Function, target: Target, requested: int) -> Provisioned:
        if requested < 1:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{requested}' at 'provisionedConcurrentExecutions' "
                "failed to satisfy constraint: Member must have value greater than or equal to 1"
            )
        others = sum(c.requested for q, c in function.provisioned.items() if q != target.qualifier)
        if function.reserved is not None and others + requested > function.reserved:
            raise InvalidParameterValue(
                "Requested Provisioned Concurrency should not be greater than the "
                f"reservedConcurrentExecution for function {function.name}"
            )
        config = Provisioned(target.qualifier, target.version.version, requested)
        function.provisioned[target.qualifier] = config
        return config

    def provisioned(self, function: Function, qualifier: str) -> Provisioned:
        config = function.provisioned.get(qualifier)
        if config is None:
            raise ProvisionedConcurrencyConfigNotFound(
                "No Provisioned Concurrency Config found for this function"
            )
        return config

    def update_provisioned(self, function: Function, qualifier: str, **changes: object) -> None:
        """The pool reports allocation progress here (ignored once the config was deleted or replaced)."""
        config = function.provisioned.get(qualifier)
        if config is not None:
            function.provisioned[qualifier] = replace(config, **changes)  # type: ignore[arg-type]
