"""The Invoke API answers as soon as the runtime posts its response, as Lambda does: the runtime's next
`/next`, END/REPORT and the freeze come after the caller has its answer (unless it asked for the log tail,
which holds REPORT). A gate held by the test keeps the runtime between its response and its next `/next`."""

from __future__ import annotations

import base64
import socket
import threading
from pathlib import Path

from support.runtime_scripts import write_script_bootstrap
from support.serve import ServeProcess, lambda_client

GATED = """
import socket
port = int(os.environ["GATE_PORT"])
while True:
    rid, headers, body = next_event()
    respond(rid, b'{"answered": true}')
    with socket.create_connection(("127.0.0.1", port)) as gate:  # hold here until the test lets go
        gate.recv(1)
"""


def environment_states(server: ServeProcess) -> list[str]:
    return [env["state"] for env in server.function("gated")["environments"]]


def test_the_caller_gets_the_answer_before_the_runtime_is_back_on_next(tmp_path: Path) -> None:
    code = write_script_bootstrap(tmp_path / "gated", GATED)
    gate = socket.create_server(("127.0.0.1", 0))
    port = gate.getsockname()[1]
    with ServeProcess(str(code), "--timeout", "30") as server:
        client = lambda_client(server.url)
        client.update_function_configuration(
            FunctionName="gated", Environment={"Variables": {"GATE_PORT": str(port)}}
        )
        client.get_waiter("function_updated").wait(FunctionName="gated")
        answer = client.invoke(FunctionName="gated", Payload=b"{}")
        assert answer["Payload"].read() == b'{"answered": true}'
        assert environment_states(server) == ["busy"]  # still between its response and its next `/next`
        held, _ = gate.accept()
        held.send(b"x")
        held.close()
        server.wait_for(lambda: environment_states(server) == ["idle-frozen"], "the environment to freeze")
        # With the log tail asked for, the answer waits for the end: REPORT is in it.
        accepted: list[socket.socket] = []

        def release_next() -> None:
            conn, _ = gate.accept()
            accepted.append(conn)
            conn.send(b"x")

        releaser = threading.Thread(target=release_next)
        releaser.start()
        tailed = client.invoke(FunctionName="gated", Payload=b"{}", LogType="Tail")
        releaser.join(30)
        assert "REPORT RequestId: " in base64.b64decode(tailed["LogResult"]).decode()
        for conn in accepted:
            conn.close()
    gate.close()
