"""The OpenAPI document, plus what FastAPI does not write by itself: links between operations, and
the 413 every operation that takes a body may answer and the 400 of a malformed JSON body, which
operations that take none answer too (functions/api/json_bodies.py).

A Space's `id` (in the answer of `POST /spaces` and of every operation that answers with the
Space) is what every `/spaces/{space_id}/...` operation takes, and its `host` is a user the stage
operations can name. The links say so, so clients and tools (schemathesis' stateful phase) can
follow a Space through its life: create, start, roles, tokens, end. They are derived from the
routes, so a new operation on a Space is linked without being listed here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .json_bodies import MALFORMED_BODY, WITH_BODY, judges_json

# Methods whose body functions/api/json_bodies.py bounds (a 413 for any operation that has one).
BODY_METHODS = frozenset(method.lower() for method in WITH_BODY)
TOO_LARGE = {
    "description": "`body_too_large`: the body is over its limit (64 KiB; a webhook's 4 MiB); nothing "
    "was read past it",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
MALFORMED = {
    "description": MALFORMED_BODY,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
# A Space, and a Space answering a write (SpaceChange: the Space plus `converged`).
SPACE_SCHEMAS = frozenset({"#/components/schemas/SpacePublic", "#/components/schemas/SpaceChange"})
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
            for path, item in schema["paths"].items():
                for method, operation in item.items():
                    if method in BODY_METHODS:
                        operation["responses"].setdefault("413", TOO_LARGE)
                        if judges_json(path):
                            operation["responses"].setdefault("400", MALFORMED)
                    for response in operation["responses"].values():
                        body = response.get("content", {}).get("application/json", {}).get("schema", {})
                        if body.get("$ref") in SPACE_SCHEMAS:
                            response["links"] = links
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
