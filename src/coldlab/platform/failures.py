"""How an environment words the failures it reports: exit reasons as Go prints them, and error payloads."""

from __future__ import annotations

import json
import signal

# Go's os.ProcessState wording for the signals a bootstrap typically dies of.
_SIGNAL_WORDS = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGFPE: "floating point exception",
}


def exit_reason(returncode: int) -> str:
    """`exit status 2` or `signal: killed`, as Lambda (Go) words it."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        signum = signal.Signals(-returncode)
    except ValueError:
        return f"signal: {-returncode}"
    return f"signal: {_SIGNAL_WORDS.get(signum, signum.name.lower())}"


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":")).encode()


def exit_payload(request_id: str, reason: str) -> bytes:
    message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
    return error_payload("Runtime.ExitError", message)


def timeout_payload(request_id: str, timeout_s: int) -> bytes:
    message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
    return error_payload("Sandbox.Timedout", message)
