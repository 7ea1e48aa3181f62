"""One synth of the whole app per test session (bundling skipped: no pip, no network).

`app.synth()` runs cdk-nag as a validation plugin and raises on any unacknowledged finding, so the
fixture itself fails if the stack is not nag-clean.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

STACK = "Spaces"


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    template: dict[str, Any]
    metadata: dict[str, list[dict[str, Any]]]

    @property
    def assertions(self) -> Template:
        return Template.from_json(self.template)

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def one(self, type_: str, **where: Any) -> tuple[str, dict[str, Any]]:
        found = [
            (k, v)
            for k, v in self.resources(type_).items()
            if all(v.get("Properties", {}).get(key) == value for key, value in where.items())
        ]
        assert len(found) == 1, f"expected one {type_} with {where}, found {len(found)}"
        return found[0]


def synthesize(outdir: Path, **context: object) -> Synthesized:
    """The whole app with `context` (bundling skipped) into `outdir`, nag checks included."""
    from app import build_app

    build_app(context={"aws:cdk:bundling-stacks": [], **context}, outdir=str(outdir)).synth()
    return Synthesized(
        outdir=outdir,
        template=json.loads((outdir / f"{STACK}.template.json").read_text()),
        metadata=json.loads((outdir / f"{STACK}.metadata.json").read_text()),
    )


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))
