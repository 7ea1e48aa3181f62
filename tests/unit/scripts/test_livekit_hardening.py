"""scripts/livekit_hardening.py: every edit applies exactly once, or nothing is changed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "livekit_hardening.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("livekit_hardening", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass reads its own module
    spec.loader.exec_module(module)
    return module


hardening = _module()


def _tree(root: Path, texts: dict[str, str]) -> None:
    for path, text in texts.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


EDITS = (
    hardening.Edit("a/one.go", "danger()", "nil", "first"),
    hardening.Edit("b/two.go", "\troutes(mux)\n", "\t_ = mux\n", "second"),
)


def test_every_edit_is_applied(tmp_path: Path) -> None:
    _tree(tmp_path, {"a/one.go": "x := danger()\n", "b/two.go": "func f() {\n\troutes(mux)\n}\n"})
    hardening.apply(tmp_path, EDITS)
    assert (tmp_path / "a/one.go").read_text() == "x := nil\n"
    assert (tmp_path / "b/two.go").read_text() == "func f() {\n\t_ = mux\n}\n"


@pytest.mark.parametrize("second", ["func f() {}\n", "\troutes(mux)\n\troutes(mux)\n"])
def test_an_edit_that_does_not_match_once_changes_nothing(tmp_path: Path, second: str) -> None:
    _tree(tmp_path, {"a/one.go": "x := danger()\n", "b/two.go": second})
    with pytest.raises(hardening.EditDoesNotApply, match="b/two.go"):
        hardening.apply(tmp_path, EDITS)
    assert (tmp_path / "a/one.go").read_text() == "x := danger()\n"
    assert (tmp_path / "b/two.go").read_text() == second


def test_the_shipped_edits_name_what_they_remove() -> None:
    paths = {edit.path for edit in hardening.EDITS}
    assert paths == {"pkg/rtc/room.go", "pkg/service/server.go", "pkg/service/utils.go"}
    assert all(edit.old != edit.new and edit.why for edit in hardening.EDITS)
