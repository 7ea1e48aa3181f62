"""The OpenAPI document, plus what FastAPI does not write by itself: links between operations.

A Space's `id` (in the answer of `POST /spaces` and of every operation that answers with the
Space) is what every `/spaces/{space_id}/...` operation takes, and its `host` is a user the stage
operations can name. The links say so, so clients and tools (schemathesis' stateful phase) can
follow a Space through its life: create, start, roles, tokens, end. They are derived from the
routes, so a new operation on a Space is linked without being listed here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

SPACE_SCHEMA = "#/components/schemas/SpacePublic"
# Path parameter -> where in the created Space's body its value is.
LINKED = {"space_id": "$response.body#/id", "user_id": "$response.body#/host"}


def space_links(schema: dict[str, Any]) -> dict[str, Any]:
    links: dict[str, Any] = {}
    for path, item in schema["paths"].items():
        if "{space_id}" not in path:
            continue
        for method, operation in item.items():
            params = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]
            if not set(params) <= set(LINKED):
                continue
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {name: LINKED[name] for name in params},
                "description": f"{method.upper()} {path} on the created Space",
            }
    return links


def install(app: FastAPI) -> None:
    """Wrap app.openapi so the document FastAPI builds (once, then cached) carries the links."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            links = space_links(schema)
            for item in schema["paths"].values():
                for operation in item.values():
                    for response in operation["responses"].values():
                        body = response.get("content", {}).get("application/json", {}).get("schema", {})
                        if body.get("$ref") == SPACE_SCHEMA:
                            response["links"] = links
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
