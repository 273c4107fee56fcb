"""The OpenAPI 3.1 document, generated from the route table (``indexer.api.routes``) and the models its routes
declare (``indexer.api.models``): the schemas are pydantic's JSON schemas of those models, the parameters their
fields. Nothing here is written by hand but the document's title and its security scheme."""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from indexer import __version__ as VERSION

REF = "#/components/schemas/{model}"


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON schema without a title on every property (the property's name says it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    """Each field of a query or path model as an OpenAPI parameter. An optional field is simply left out of the
    request, so its ``null`` alternative (and its null default) are not part of the parameter's schema."""
    schema = model.model_json_schema(schema_generator=_Schemas, ref_template=REF)
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        examples = prop.pop("examples", None)
        options = prop.get("anyOf")
        if options and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del prop["anyOf"]
            prop = {**rest[0], **prop} if len(rest) == 1 else {**prop, "anyOf": rest}
            description = description or prop.pop("description", None)
        if prop.get("default", 0) is None:
            del prop["default"]
        parameter: dict[str, Any] = {"name": name, "in": where, "required": where == "path" or name in required,
                                     "schema": prop}
        if description:
            parameter["description"] = description
        if examples:
            parameter["example"] = examples[0]
        parameters.append(parameter)
    return parameters


def _content(reply: Any) -> dict[str, Any]:
    from indexer.api.routes import ASSET, JSON

    if reply.media == ASSET:
        return {"text/css": {"schema": {"type": "string"}}, "text/javascript": {"schema": {"type": "string"}}}
    if reply.media != JSON:
        return {reply.media: {"schema": {"type": "string"}}}
    schema = {"type": "object"} if reply.model is None else {"$ref": REF.format(model=reply.model.__name__)}
    return {JSON: {"schema": schema}}


@cache
def document() -> dict[str, Any]:
    from indexer.api.routes import ROUTES

    paths: dict[str, dict[str, Any]] = {}
    models: dict[str, type[BaseModel]] = {}
    for route in ROUTES:
        operation: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary}
        parameters = [*(_parameters(route.params, "path") if route.params else []),
                      *_parameters(route.query, "query")]
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            models[route.body.__name__] = route.body
            media: dict[str, Any] = {"schema": {"$ref": REF.format(model=route.body.__name__)}}
            if route.body_example is not None:
                media["example"] = route.body_example
            operation["requestBody"] = {"required": route.body_required, "content": {"application/json": media}}
        responses: dict[str, Any] = {}
        for status, reply in route.replies.items():
            responses[str(status)] = {"description": reply.description}
            if status != 204:
                responses[str(status)]["content"] = _content(reply)
            if reply.model is not None:
                models[reply.model.__name__] = reply.model
        operation["responses"] = responses
        if route.secured:
            operation["security"] = [{"bearerAuth": []}]
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    _, schemas = models_json_schema([(m, "validation") for m in models.values()], ref_template=REF,
                                    schema_generator=_Schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "position-health-indexer API", "version": VERSION,
                 "description": "Read-only views of the indexed store, plus tracked-wallet management. Exact "
                                "figures are decimal strings. Every error is JSON: `{\"error\": …}`."},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {}),
                       "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    }


async def openapi_handler(request: web.Request) -> web.Response:
    from indexer.api import params
    from indexer.api.models import NoQuery

    params.query(request, NoQuery)
    return web.json_response(document())
