"""Every answer names the page generation this API serves (contract/names.py PAGE_GENERATION).

A page keeps running for hours after a deploy (a speaker on stage, a viewer on the broadcast), with
the code it loaded. When an API change leaves pages built before it unable to work (a parameter
renamed or removed), the change bumps PAGE_GENERATION; a page that reads a generation above its own
offers a reload (web/src/update_notice.ts) instead of failing quietly (docs/control-plane.md,
"Older pages"). The header is on every answer, errors and preflights included, and CORS exposes it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contract.names import PAGE_GENERATION, PAGE_GENERATION_HEADER

_HEADER = (PAGE_GENERATION_HEADER.lower().encode("latin-1"), str(PAGE_GENERATION).encode("latin-1"))


class PageGeneration:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_generation(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), _HEADER]}
            await send(message)

        await self.app(scope, receive, with_generation)
