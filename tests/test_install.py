"""The project installs from public indexes alone: no requirement that only a non-default
index serves, unless the Makefile (which runs the install) names that index."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _requirements() -> dict[str, list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"dependencies": project["dependencies"], **project.get("optional-dependencies", {})}
    return {name: [Requirement(r) for r in reqs] for name, reqs in groups.items()}


def needs_another_index(req: Requirement) -> bool:
    """A pin to a local version (``torch==2.13.0+cpu``: PyTorch's own index serves those, PyPI
    never does) or a direct URL."""
    return bool(req.url) or any("+" in spec.version for spec in req.specifier)


def indexes_named(makefile: str) -> list[str]:
    return re.findall(r"--(?:extra-)?index-url[= ]+(\S+)", makefile) + \
        re.findall(r"PIP_(?:EXTRA_)?INDEX_URL\s*[:?]?=\s*(\S+)", makefile)


def test_the_check_sees_a_pin_only_another_index_serves():
    assert needs_another_index(Requirement("torch==2.13.0+cpu"))
    assert needs_another_index(Requirement("pkg @ https://example.invalid/pkg-1.0-py3-none-any.whl"))
    assert not needs_another_index(Requirement("torch>=2.3,<2.14"))
    assert indexes_named("install:\n\tpip install --extra-index-url https://x.invalid/cpu -e .\n") == \
        ["https://x.invalid/cpu"]


def test_every_requirement_is_served_by_the_default_index_or_one_the_makefile_names():
    named = indexes_named((ROOT / "Makefile").read_text())
    for group, reqs in _requirements().items():
        for req in reqs:
            assert not needs_another_index(req) or named, (
                f"pyproject.toml [{group}] {req}: no default index serves it and the Makefile names no index")
