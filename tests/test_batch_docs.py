"""The user documentation of the batch, the demo and the commands stays in step with the code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _script_parser(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "analyses" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


def _options(parser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings
            if opt.startswith("--") and action.help != "==SUPPRESS=="}


def test_cli_reference_lists_every_command_and_option():
    from qbdi_musicology.cli import build_parser

    text = (DOCS / "cli.md").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sub.choices.items():
        section = text.split(f"## qbdi {name}\n", 1)
        assert len(section) == 2, f"docs/cli.md has no section for 'qbdi {name}'"
        body = section[1].split("\n## ", 1)[0]
        missing = sorted(o for o in _options(command) if o not in body)
        assert not missing, f"docs/cli.md, qbdi {name}: options not documented {missing}"
    for script in ("harmonic_drift", "teaching_demo"):
        body = text.split(f"## analyses/{script}.py\n", 1)[1].split("\n## ", 1)[0]
        missing = sorted(o for o in _options(_script_parser(script)) if o not in body)
        assert not missing, f"docs/cli.md, {script}.py: options not documented {missing}"


@pytest.mark.parametrize("page", ["guide.md", "teaching.md", "cli.md", "cluster.md"])
def test_doc_links_point_to_existing_pages(page):
    text = (DOCS / page).read_text()
    for target in re.findall(r"\]\(([^)#]+\.(?:md|png))(?:#[^)]*)?\)", text):
        assert (DOCS / target).is_file(), f"docs/{page} links to missing {target}"


def test_guide_starts_from_the_readme_commands():
    readme = (REPO / "README.md").read_text()
    guide = (DOCS / "guide.md").read_text()
    for command in ("make demo", "make test"):
        assert command in readme and command in guide


def test_cluster_page_is_linked_and_names_what_workers_need():
    text = " ".join((DOCS / "cluster.md").read_text().replace("**", "").split())
    assert "docs/cluster.md" in (REPO / "README.md").read_text()
    assert "(cluster.md)" in (DOCS / "guide.md").read_text()
    for needed in ("--dask", "--jobs 1", "same paths", "run the same command again",
                   "queries per minute"):
        assert needed in text, needed
