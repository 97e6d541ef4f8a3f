"""Write one Markdown reference page per public module of ``qbdi_musicology``.

Run from the repository root::

    python docs/make_api_docs.py            # writes docs/api/
    python docs/make_api_docs.py OUT_DIR    # writes elsewhere (the tests do this)

Each page ``docs/api/<dotted.module.name>.md`` holds the module docstring, then every
public function and class defined in that module (its ``__all__`` if it has one,
otherwise the names not starting with ``_`` whose ``__module__`` is the module), with
signature and docstring; classes also list their public methods and properties with
the first line of each docstring. ``docs/api/index.md`` lists the modules.

The output is deterministic (sorted, no dates, no memory addresses), so a test can
regenerate it and compare with the committed pages. The command-line modules
(``qbdi_musicology.cli``) are documented in ``docs/cli.md`` instead.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "qbdi_musicology"
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "api"

# Default values such as ``<object object at 0x7f...>`` would change on every run.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def public_module_names() -> list[str]:
    """Dotted names of the package's public modules, sorted (packages included)."""
    root = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(root.__path__, prefix=PACKAGE + "."):
        parts = info.name.split(".")[1:]
        if parts[0] == "cli" or any(p.startswith("_") for p in parts):
            continue
        names.append(info.name)
    return sorted(names)


def _doc(obj: object) -> str:
    """The cleaned docstring of ``obj`` (its own, not an inherited one)."""
    raw = obj.__doc__ if isinstance(getattr(obj, "__doc__", None), str) else None
    return inspect.cleandoc(raw) if raw else ""


def _first_line(obj: object) -> str:
    doc = _doc(obj)
    return doc.splitlines()[0].strip() if doc else ""


def _signature(obj: object) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return _ADDRESS.sub("", text)


def public_members(module: ModuleType) -> list[tuple[str, object]]:
    """Public functions and classes defined in ``module``, sorted by name."""
    exported = getattr(module, "__all__", None)
    if exported is not None:
        names = [n for n in exported if hasattr(module, n)]
    else:
        names = [n for n, v in vars(module).items()
                 if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]
    members = []
    for name in sorted(set(names)):
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
            members.append((name, value))
    return members


def _class_members(cls: type) -> list[str]:
    """Bullet lines for the public methods and properties defined on ``cls`` itself."""
    lines = []
    for name in sorted(vars(cls)):
        if name.startswith("_"):
            continue
        attr = vars(cls)[name]
        if isinstance(attr, property):
            kind, target, sig = "property", attr.fget, ""
        elif isinstance(attr, (staticmethod, classmethod)):
            kind, target = type(attr).__name__, attr.__func__
            sig = _signature(getattr(cls, name))
        elif inspect.isfunction(attr):
            kind, target, sig = "method", attr, _signature(attr)
        else:
            continue
        summary = _first_line(target) if target is not None else ""
        line = f"- `{name}{sig}` ({kind})"
        lines.append(f"{line}: {summary}" if summary else line)
    return lines


def module_page(module: ModuleType) -> str:
    """The Markdown text of one module's page."""
    out = [f"# `{module.__name__}`", ""]
    doc = _doc(module)
    out += [doc if doc else "*(no module docstring)*", ""]
    members = public_members(module)
    if not members:
        out += ["*(no public functions or classes)*", ""]
    for name, value in members:
        kind = "class" if inspect.isclass(value) else "function"
        out += [f"## {kind} `{name}`", "", "```python", f"{name}{_signature(value)}", "```", ""]
        body = _doc(value)
        out += [body if body else "*(no docstring)*", ""]
        if inspect.isclass(value):
            extra = _class_members(value)
            if extra:
                out += ["Methods and properties:", ""] + extra + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def index_page(modules: list[ModuleType]) -> str:
    """The Markdown text of ``index.md``: every module with its docstring's first line."""
    out = [f"# `{PACKAGE}` API reference", "",
           "One page per module, generated from the docstrings by `docs/make_api_docs.py`.",
           "The command-line interface is described in [../cli.md](../cli.md).", ""]
    for module in modules:
        summary = _first_line(module)
        entry = f"- [`{module.__name__}`]({module.__name__}.md)"
        out.append(f"{entry}: {summary}" if summary else entry)
    return "\n".join(out) + "\n"


def render() -> dict[str, str]:
    """File name -> text for every page (index included)."""
    modules = [importlib.import_module(n) for n in public_module_names()]
    pages = {f"{m.__name__}.md": module_page(m) for m in modules}
    pages["index.md"] = index_page(modules)
    return pages


def write(out_dir: Path) -> list[Path]:
    """Write all pages into ``out_dir``, removing stale ``.md`` pages there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = render()
    for old in out_dir.glob("*.md"):
        if old.name not in pages:
            old.unlink()
    written = []
    for name, text in sorted(pages.items()):
        path = out_dir / name
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)  # atomic: never a half-written page
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else DEFAULT_OUT
    written = write(out_dir)
    print(f"wrote {len(written)} pages to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main(sys.argv[1:]))
