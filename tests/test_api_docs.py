"""The API reference pages in docs/api/ are generated and must match the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
API_DIR = REPO / "docs" / "api"


def _generator():
    spec = importlib.util.spec_from_file_location("make_api_docs", REPO / "docs" / "make_api_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_api_pages_are_up_to_date(tmp_path):
    gen = _generator()
    gen.write(tmp_path)
    fresh = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.md")}
    committed = {p.name: p.read_text(encoding="utf-8") for p in API_DIR.glob("*.md")}
    assert sorted(committed) == sorted(fresh), "run: python docs/make_api_docs.py"
    stale = [name for name in sorted(fresh) if committed[name] != fresh[name]]
    assert not stale, f"stale API pages {stale}; run: python docs/make_api_docs.py"


def test_every_public_module_has_a_page():
    gen = _generator()
    names = gen.public_module_names()
    # The core modules of the package must be among them; the CLI is documented elsewhere.
    for core in ("qbdi_musicology.channel", "qbdi_musicology.grid", "qbdi_musicology.errors"):
        assert core in names
    assert not any(n.startswith("qbdi_musicology.cli") for n in names)
    index = (API_DIR / "index.md").read_text(encoding="utf-8")
    for name in names:
        page = API_DIR / f"{name}.md"
        assert page.is_file(), f"no API page for {name}"
        assert page.read_text(encoding="utf-8").startswith(f"# `{name}`\n")
        assert f"]({name}.md)" in index


def test_page_documents_functions_with_signature_and_docstring():
    # errors.QbdiError is a class defined in errors.py: its page must show it with its doc.
    import qbdi_musicology.errors as errors

    page = (API_DIR / "qbdi_musicology.errors.md").read_text(encoding="utf-8")
    assert "## class `QbdiError`" in page
    assert errors.QbdiError.__doc__.strip().splitlines()[0] in page
