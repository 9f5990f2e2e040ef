"""The control-plane subset SDKs, the CLI and IaC tools call, with the paths and codes of serve §2.2.

Note the date prefixes: Put/DeleteFunctionConcurrency live under 2017-10-31, GetFunctionConcurrency and the
provisioned-concurrency calls under 2019-09-30. A create or an update answers in its in-progress state and
the next read is settled (see coldlab.platform.registry). The event invoke configs (2019-09-25) are in
coldlab.gateway.event_config.
"""

from __future__ import annotations

from aiohttp import web

from coldlab.errors import InvalidParameterValue
from coldlab.gateway import shapes
from coldlab.gateway.event_config import EventInvokeConfigs
from coldlab.gateway.wire import int_member, json_body, json_response
from coldlab.platform.service import LambdaService

LIST_PAGE = 50  # ListFunctions returns at most 50 per page, whatever MaxItems says


class ControlPlane:
    def __init__(self, service: LambdaService) -> None:
        self.service = service
        self.registry = service.registry

    def add_routes(self, app: web.Application) -> None:
        fn = "/2015-03-31/functions/{name}"
        app.router.add_get("/2015-03-31/functions/", self.list_functions)
        app.router.add_get("/2015-03-31/functions", self.list_functions)
        app.router.add_post("/2015-03-31/functions", self.create_function)
        app.router.add_get(fn, self.get_function)
        app.router.add_delete(fn, self.delete_function)
        app.router.add_get(fn + "/configuration", self.get_configuration)
        app.router.add_put(fn + "/configuration", self.update_configuration)
        app.router.add_put(fn + "/code", self.update_code)
        app.router.add_post(fn + "/versions", self.publish_version)
        app.router.add_get(fn + "/versions", self.list_versions)
        app.router.add_post(fn + "/aliases", self.create_alias)
        app.router.add_get(fn + "/aliases", self.list_aliases)
        app.router.add_get(fn + "/aliases/{alias}", self.get_alias)
        app.router.add_put("/2017-10-31/functions/{name}/concurrency", self.put_concurrency)
        app.router.add_delete("/2017-10-31/functions/{name}/concurrency", self.delete_concurrency)
        app.router.add_get("/2019-09-30/functions/{name}/concurrency", self.get_concurrency)
        pc = "/2019-09-30/functions/{name}/provisioned-concurrency"
        app.router.add_put(pc, self.put_provisioned)
        app.router.add_get(pc, self.get_provisioned)
        app.router.add_delete(pc, self.delete_provisioned)
        app.router.add_get("/2016-08-19/account-settings", self.account_settings)
        EventInvokeConfigs(self.service).add_routes(app)

    # --- functions ----------------------------------------------------------------------------------

    async def list_functions(self, request: web.Request) -> web.Response:
        all_versions = request.query.get("FunctionVersion") == "ALL"
        items = []
        for function in self.registry:
            items.append(shapes.configuration(function, function.latest))
            if all_versions:
                items.extend(shapes.configuration(function, v) for v in function.versions.values())
        marker, max_items = request.query.get("Marker", "0"), request.query.get("MaxItems", "")
        start = int(marker) if marker.isdigit() else 0  # our markers are offsets
        size = min(LIST_PAGE, int(max_items)) if max_items.isdigit() and int(max_items) > 0 else LIST_PAGE
        page: dict[str, object] = {"Functions": items[start : start + size]}
        if start + size < len(items):
            page["NextMarker"] = str(start + size)
        return json_response(page)

    async def create_function(self, request: web.Request) -> web.Response:
        function = await self.service.create_function(await json_body(request))
        document = shapes.configuration(function, function.latest)
        self.registry.activate(function)
        return json_response(document, 201)

    async def get_function(self, request: web.Request) -> web.Response:
        function = self.registry.get(request.match_info["name"])
        target = self.registry.resolve(request.match_info["name"], request.query.get("Qualifier"))
        return json_response(shapes.get_function(function, target.version))

    async def get_configuration(self, request: web.Request) -> web.Response:
        function = self.registry.get(request.match_info["name"])
        target = self.registry.resolve(request.match_info["name"], request.query.get("Qualifier"))
        return json_response(shapes.configuration(function, target.version))

    async def update_configuration(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        function = await self.service.update_configuration(request.match_info["name"], body)
        document = shapes.configuration(function, function.latest)
        self.registry.activate(function)
        return json_response(document)

    async def update_code(self, request: web.Request) -> web.Response:
        function = await self.service.update_code(request.match_info["name"], await json_body(request))
        document = shapes.configuration(function, function.latest)
        self.registry.activate(function)
        return json_response(document)

    async def delete_function(self, request: web.Request) -> web.Response:
        self.service.delete_function(request.match_info["name"], request.query.get("Qualifier"))
        return web.Response(status=204)

    async def publish_version(self, request: web.Request) -> web.Response:
        function = self.registry.unqualified(request.match_info["name"])
        body = await json_body(request)
        self.registry.check_revision(function, body.get("RevisionId"))
        version = self.registry.publish(function, str(body.get("Description", "")))
        return json_response(shapes.configuration(function, version), 201)

    async def list_versions(self, request: web.Request) -> web.Response:
        function = self.registry.unqualified(request.match_info["name"])
        versions = [function.latest, *function.versions.values()]
        return json_response({"Versions": [shapes.configuration(function, v) for v in versions]})

    # --- aliases ------------------------------------------------------------------------------------

    async def create_alias(self, request: web.Request) -> web.Response:
        function = self.registry.unqualified(request.match_info["name"])
        body = await json_body(request)
        name = body.get("Name")
        version = body.get("FunctionVersion")
        if not isinstance(name, str) or not isinstance(version, str):
            raise InvalidParameterValue("CreateAlias needs Name and FunctionVersion")
        alias = self.registry.create_alias(function, name, version, str(body.get("Description", "")))
        return json_response(shapes.alias(function, alias), 201)

    async def get_alias(self, request: web.Request) -> web.Response:
        function = self.registry.unqualified(request.match_info["name"])
        return json_response(
            shapes.alias(function, self.registry.alias(function, request.match_info["alias"]))
        )

    async def list_aliases(self, request: web.Request) -> web.Response:
        function = self.registry.unqualified(request.match_info["name"])
        return json_response({"Aliases": [shapes.alias(function, a) for a in function.aliases.values()]})

    # --- concurrency --------------------------------------------------------------------------------

    async def put_concurrency(self, request: web.Request) -> web.Response:
        value = int_member(await json_body(request), "ReservedConcurrentExecutions")
        self.service.put_reserved(request.match_info["name"], value)
        return json_response({"ReservedConcurrentExecutions": value})

    async def get_concurrency(self, request: web.Request) -> web.Response:
        function = self.registry.unqualified(request.match_info["name"])
        if function.reserved is None:
            return json_response({})
        return json_response({"ReservedConcurrentExecutions": function.reserved})

    async def delete_concurrency(self, request: web.Request) -> web.Response:
        self.service.delete_reserved(request.match_info["name"])
        return web.Response(status=204)

    async def put_provisioned(self, request: web.Request) -> web.Response:
        value = int_member(await json_body(request), "ProvisionedConcurrentExecutions")
        config = self.service.put_provisioned(
            request.match_info["name"], request.query.get("Qualifier"), value
        )
        return json_response(shapes.provisioned(config), 202)

    async def get_provisioned(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if request.query.get("List") == "ALL":
            function = self.registry.unqualified(name)
            configs = [shapes.provisioned(c, function) for c in function.provisioned.values()]
            return json_response({"ProvisionedConcurrencyConfigs": configs})
        return json_response(
            shapes.provisioned(self.service.get_provisioned(name, request.query.get("Qualifier")))
        )

    async def delete_provisioned(self, request: web.Request) -> web.Response:
        self.service.delete_provisioned(request.match_info["name"], request.query.get("Qualifier"))
        return web.Response(status=204)

    async def account_settings(self, request: web.Request) -> web.Response:
        limit = self.registry.account_limit
        reserved = sum(f.reserved or 0 for f in self.registry)
        functions = list(self.registry)
        return json_response(
            {
                "AccountLimit": {
                    "ConcurrentExecutions": limit,
                    "UnreservedConcurrentExecutions": limit - reserved,
                    "CodeSizeZipped": 52428800,
                    "CodeSizeUnzipped": 262144000,
                    "TotalCodeSize": 80530636800,
                },
                "AccountUsage": {
                    "FunctionCount": len(functions),
                    "TotalCodeSize": sum(f.latest.code.size for f in functions),
                },
            }
        )
