"""The rules `coldlab lint` reports: what each finds, how severe it is, what happens on Lambda (and on Cloud
Run where that differs), the fix, and the replacement the seed material names.

The seed's sections: §4 (what init must not do), §5 (GOMAXPROCS below 1,769 MB), §11 (counting cold
starts), §13 (the long-running patterns a frozen process gives up). The GOMAXPROCS texts quote what
benchmarks/gomaxprocs.py measured on this project's machine (coldlab.sandbox.gomaxprocs.TRUTH_TABLE).
"""

from __future__ import annotations

from dataclasses import dataclass

from coldlab.sandbox.gomaxprocs import truth_table_summary


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # info | warning | error
    title: str
    lambda_effect: str
    cloud_run_effect: str  # "" when Cloud Run behaves as Lambda does
    fix: str
    replacement: str  # the seed's replacement for the pattern
    seed: str  # the seed section the rule comes from


_RULES = (
    Rule(
        id="init-network",
        severity="warning",
        title="Network or AWS SDK call reachable from a package-level initializer or init()",
        lambda_effect=(
            "It runs in the INIT phase of every cold start, and INIT is billed (always for Go on provided.*, "
            "for every runtime since 1 Aug 2025): a slow or failing call delays or fails the first "
            "invocation, and what it fetched is frozen with the environment and may be stale when it thaws."
        ),
        cloud_run_effect=(
            "It runs before the container listens, on every new instance, so it lengthens each cold start "
            "and the startup probe; it is not retried per request."
        ),
        fix=(
            "Fetch it lazily, once per environment: wrap the call in sync.OnceValue (sync.OnceValues for "
            "value and error) and call that from the handler."
        ),
        replacement="sync.OnceValue in the handler",
        seed="§4",
    ),
    Rule(
        id="init-background",
        severity="warning",
        title="Goroutine, ticker or time.AfterFunc started in init() or in main before lambda.Start",
        lambda_effect=(
            "Between invocations the environment is frozen, so it makes no progress: it runs only while an "
            "invocation is in flight, ticks bunch up after a thaw, and work it was meant to do (flushing, "
            "refreshing, heartbeats) is late, or lost when the environment is shut down."
        ),
        cloud_run_effect=(
            "With request-based billing the CPU is throttled outside requests, so it stalls there too; with "
            "instance-based billing (CPU always allocated) it runs."
        ),
        fix=(
            "Do the work inside the invocation: flush or refresh before the handler returns (or against the "
            "context's deadline); work that must outlive an invocation belongs in a Lambda extension."
        ),
        replacement="per-invocation work in the handler (an extension for work after the response)",
        seed="§13",
    ),
    Rule(
        id="sigterm-without-extension",
        severity="warning",
        title="signal.Notify for SIGTERM in a Lambda function without an extension",
        lambda_effect=(
            "Lambda sends SIGTERM to the runtime at shutdown only when an extension is registered; without "
            "one the process is killed with SIGKILL and this handler never runs."
        ),
        cloud_run_effect="Cloud Run sends SIGTERM and allows 10 s before SIGKILL, so the handler runs there.",
        fix=(
            "Flush per invocation; if shutdown work is essential, start with "
            "lambda.StartWithOptions(handler, lambda.WithEnableSIGTERM(cleanup)), which registers an "
            "internal extension (500 ms shutdown budget), or add an extension layer."
        ),
        replacement="per-invocation flushing; lambda.WithEnableSIGTERM for shutdown hooks",
        seed="§13",
    ),
    Rule(
        id="handler-global-cache",
        severity="warning",
        title="Package-level map or slice written from the handler",
        lambda_effect=(
            "An in-process cache: it lives only as long as one environment (warm invocations only), every "
            "concurrent environment has its own copy, it is lost at each cold start and reclaim, and it "
            "grows across invocations toward the memory limit."
        ),
        cloud_run_effect=(
            "One instance serves many requests at once (80 by default), so the handler writes it "
            "concurrently: it needs a mutex, and it is still per instance."
        ),
        fix=(
            "Bound it and accept misses (size-limited, with expiry), or keep shared state outside the "
            "process (DynamoDB, ElastiCache, S3)."
        ),
        replacement="an external store; in-process state only as a warm-only optimisation",
        seed="§13",
    ),
    Rule(
        id="server-in-lambda",
        severity="error",
        title="HTTP, gRPC or WebSocket server, or net.Listen, in a Lambda function",
        lambda_effect=(
            "Lambda delivers events through the Runtime API: nothing connects to a port the function "
            "listens on, and a long-lived server or stream is frozen between invocations and cut at the "
            "timeout (15 min at most)."
        ),
        cloud_run_effect=(
            "This is Cloud Run's contract: listen on $PORT; streaming and WebSockets work within the request "
            "timeout."
        ),
        fix=(
            "Handle events with lambda.Start (API Gateway or function URL events for HTTP); run streaming "
            "and WebSocket servers on Cloud Run, or use API Gateway WebSocket APIs."
        ),
        replacement="lambda.Start with HTTP events; Cloud Run for servers and streams",
        seed="§13",
    ),
    Rule(
        id="automaxprocs-on-lambda",
        severity="warning",
        title="go.uber.org/automaxprocs imported in a Lambda function",
        lambda_effect="",  # from the truth table, see rule_text()
        cloud_run_effect=(
            "Where the CPU limit sits on the container's own cgroup, automaxprocs sees it and rounds it down "
            "(GOMAXPROCS=1 at 1 vCPU or less)."
        ),
        fix=(
            "Set GOMAXPROCS yourself: the GOMAXPROCS environment variable in the function's configuration, "
            "or runtime.GOMAXPROCS(1) when AWS_LAMBDA_FUNCTION_MEMORY_SIZE is below 1769."
        ),
        replacement="GOMAXPROCS from AWS_LAMBDA_FUNCTION_MEMORY_SIZE (the seed's option 2)",
        seed="§5",
    ),
    Rule(
        id="gomaxprocs-unset",
        severity="warning",
        title="No GOMAXPROCS handling at a memory size below 1,769 MB",
        lambda_effect="",  # from the truth table, see rule_text()
        cloud_run_effect=(
            "Below 1 vCPU with the limit visible on the container's cgroup, Go 1.25+ still picks 2 (its "
            "floor), so the same applies."
        ),
        fix=(
            "Set GOMAXPROCS=1 in the function's environment (template Environment.Variables), or call "
            "runtime.GOMAXPROCS(1) when AWS_LAMBDA_FUNCTION_MEMORY_SIZE is below 1769; measure with "
            "coldlab tune."
        ),
        replacement="GOMAXPROCS=1 below 1,769 MB (the seed's option 2)",
        seed="§5",
    ),
    Rule(
        id="cold-start-flag",
        severity="info",
        title="Cold starts counted with a package-level flag",
        lambda_effect=(
            "Credit: the first invocation of each environment sees the flag, so cold starts are counted per "
            "environment. With provisioned concurrency it also marks the first invocation of a pre-"
            "initialised environment, whose INIT happened ahead of time."
        ),
        cloud_run_effect=(
            "Per instance; concurrent requests race on the first read, so use atomic.Bool.CompareAndSwap."
        ),
        fix="Nothing to fix: log it as a field so cold starts can be counted from the logs.",
        replacement="the cold-start flag (this is the seed's pattern)",
        seed="§11",
    ),
    Rule(
        id="compile-error",
        severity="error",
        title="The package does not compile",
        lambda_effect="It cannot be built or deployed; the other findings cover what parses and type-checks.",
        cloud_run_effect="",
        fix="Fix the error (go build ./... shows the same).",
        replacement="",
        seed="",
    ),
    Rule(
        id="bad-suppression",
        severity="warning",
        title="A //coldlab:ignore comment without a known rule id or a reason",
        lambda_effect="The comment suppresses nothing.",
        cloud_run_effect="",
        fix="Write it as //coldlab:ignore RULE reason, with RULE one of the ids coldlab lint lists.",
        replacement="",
        seed="",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def lambda_effect(rule: Rule) -> str:
    """The Lambda text, with the measured GOMAXPROCS figures filled in where a rule needs them."""
    if rule.id == "automaxprocs-on-lambda":
        return (
            "automaxprocs reads the CPU quota of the process's own cgroup; Lambda enforces CPU outside the "
            "guest, so it finds none and leaves GOMAXPROCS at the CPUs the guest shows (2 up to 3,008 MB). "
            + truth_table_summary("automaxprocs")
        )
    if rule.id == "gomaxprocs-unset":
        return (
            "Below 1,769 MB the function gets less than one vCPU of CPU time, but Go runs GOMAXPROCS=2 (the "
            "2 CPUs the guest shows; Go 1.25+'s container-aware default cannot see Lambda's quota, and never "
            "picks fewer than 2 anyway). " + truth_table_summary("default")
        )
    return rule.lambda_effect
