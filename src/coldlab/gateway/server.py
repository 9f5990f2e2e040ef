"""The gateway's HTTP server: the Invoke API, the control plane, the status JSON and dashboard, the URLs.

One aiohttp application on one port, behind the front door (front_door.py) that answers plain invokes
itself. The AWS API paths are registered first, so they win over the
template's HttpApi/Api routes that the URL gateway adds at the root.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from aiohttp import web

from coldlab.errors import UsageError
from coldlab.gateway import dashboard
from coldlab.gateway.control import ControlPlane
from coldlab.gateway.front_door import FrontDoor
from coldlab.gateway.invoke_api import invoke_handler
from coldlab.gateway.status import status
from coldlab.gateway.urls import UrlGateway
from coldlab.gateway.wire import api_errors, json_response
from coldlab.platform.service import LambdaService
from coldlab.platform.spec import FunctionSpec

STOP_WAIT_S = 60.0  # what aiohttp gives its own in-flight requests at shutdown
CREATE_MAX_BYTES = 70167211  # the largest CreateFunction request AWS takes (serve §2.1)
T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop when it is installed (measured: ~10-15% less CPU per warm invoke of
    `coldlab serve`, four HTTP exchanges each), on asyncio's own loop when it is not."""
    try:
        import uvloop  # optional: only the server wants it
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


class Gateway:
    """Serves `service` over HTTP; `start()` binds, `stop()` closes the listener (not the service)."""

    def __init__(
        self, service: LambdaService, specs: Iterable[FunctionSpec] = (), *, url_for_all: bool = False
    ):
        self.service = service
        self.app = web.Application(middlewares=[api_errors], client_max_size=CREATE_MAX_BYTES)
        self.app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke_handler(service))
        ControlPlane(service).add_routes(self.app)
        self.app.router.add_get("/_coldlab/status", self._status)
        dashboard.add_routes(self.app)
        self.urls = UrlGateway(service.invoke_function, specs, url_for_all=url_for_all)
        self.urls.add_routes(self.app)
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._front_doors: set[FrontDoor] = set()
        self.port = 0

    async def _status(self, request: web.Request) -> web.Response:
        return json_response(status(self.service, dashboard.since_param(request)))

    async def start(self, host: str = "127.0.0.1", port: int = 3001) -> str:
        """Listen; the URL it listens on (port 0 picks a free port). A port in use is bad input."""
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await runner.setup()
        aiohttp_protocol = runner.server
        assert aiohttp_protocol is not None
        try:
            self._listener = await asyncio.get_running_loop().create_server(
                lambda: FrontDoor(self.service, aiohttp_protocol, self._front_doors), host, port
            )
        except OSError as exc:
            await runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"port {port} on {host} is already in use",
                    "stop the other server or pick another --port (0 picks a free one)",
                ) from exc
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror}", "check --host and --port"
            ) from exc
        self._runner = runner
        self.service.timeline.start()  # the dashboard's samples, from the moment there is someone to ask
        self.port = int(self._listener.sockets[0].getsockname()[1])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}"

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        doors = list(self._front_doors)
        for door in doors:
            door.finish()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if doors:  # the service answers what is still running (or cuts it off) before this is awaited
            await asyncio.wait([door.closed for door in doors], timeout=STOP_WAIT_S)
