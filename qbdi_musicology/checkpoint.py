"""Model files: one self-describing, tamper-evident file per trained model.

Layout of a ``.qbdi`` file::

    QBDI-MODEL\\n                 magic line
    {JSON header}\\n              one line: format version, kind, model config, grid, corpus
                                 name + fingerprint, training seed, final losses, active
                                 latent dimensions, payload length and sha256
    <payload>                    the tensors, written by ``torch.save`` of a plain
                                 ``{name: tensor}`` dict

On load the payload length and sha256 are checked *before* anything is unpickled, and the
tensors are read with ``torch.load(weights_only=True)``, which refuses any object that is not
a tensor or a plain container: a file with code in it cannot run. Every problem (missing,
truncated, tampered, foreign, newer format, wrong grid) is a :class:`ModelError` that says
what to do.

Example::

    save_model("pop.qbdi", model, info={"corpus": {"name": "pop-music-midi", ...}})
    loaded = load_model("pop.qbdi")
    loaded.model, loaded.config.grid, loaded.model_id, loaded.info["final_losses"]
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError, ParameterError
from .fileio import write_bytes_atomic
from .grid import Grid

log = logging.getLogger(__name__)

MAGIC = b"QBDI-MODEL\n"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 1 << 20
MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL_NAME = "pop-harmony"
SUFFIX = ".qbdi"


@dataclass
class LoadedModel:
    """A model read from a file: the torch module plus everything its header says."""

    model: Any  # BarVAE
    config: Any  # ModelConfig
    header: dict
    path: Path
    sha256: str
    extra_tensors: dict = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        """Short, stable identifier: file stem + the first 12 hex digits of the checksum."""
        return f"{self.path.stem}@{self.sha256[:12]}"

    @property
    def info(self) -> dict:
        """The free-form training information (corpus, seed, losses, active dims...)."""
        return self.header.get("info", {})

    @property
    def grid(self) -> Grid:
        return self.config.grid


def _encode_payload(tensors: dict) -> bytes:
    import torch

    buffer = io.BytesIO()
    clean = {name: t.detach().cpu().contiguous() for name, t in sorted(tensors.items())}
    torch.save(clean, buffer)
    return buffer.getvalue()


def pack(kind: str, config_dict: dict, tensors: dict, info: dict | None = None) -> bytes:
    """The bytes of a model file (see the module docstring)."""
    payload = _encode_payload(tensors)
    header = {
        "format": "qbdi-model",
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config": config_dict,
        "info": info or {},
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return MAGIC + line + b"\n" + payload


def save_model(path: str | os.PathLike, model, info: dict | None = None,
               *, kind: str = "bar-vae", extra_tensors: dict | None = None) -> Path:
    """Write ``model`` (a :class:`~qbdi_musicology.model.BarVAE`) atomically to ``path``."""
    tensors = dict(model.state_dict())
    for name, tensor in (extra_tensors or {}).items():
        tensors[f"extra/{name}"] = tensor
    return write_bytes_atomic(path, pack(kind, model.config.to_dict(), tensors, info))


def resolve_model_path(path_or_name: str | os.PathLike | None) -> Path:
    """A path for ``path_or_name``: None = the shipped default; a bare name = shipped model."""
    if path_or_name is None:
        path_or_name = DEFAULT_MODEL_NAME
    text = str(path_or_name)
    candidate = Path(text)
    if candidate.exists():
        return candidate
    shipped = MODELS_DIR / (text if text.endswith(SUFFIX) else text + SUFFIX)
    if os.sep not in text and shipped.exists():
        return shipped
    names = ", ".join(m["name"] for m in list_models()) or "none"
    raise ModelError(f"model {text!r} not found (no such file, and no shipped model of that "
                     f"name; shipped: {names}); train one with 'qbdi train' or give a path")


def read_header(path: str | os.PathLike) -> tuple[dict, bytes]:
    """Header dict and checked payload bytes of a model file, or :class:`ModelError`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from exc
    if not data.startswith(MAGIC):
        raise ModelError(f"{path} is not a qbdi model file (it does not start with the "
                         f"qbdi header); give a file written by 'qbdi train'")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise ModelError(f"{path}: the model header is truncated or corrupt; "
                         f"re-download or retrain the model")
    try:
        header = json.loads(data[len(MAGIC):end].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: the model header is not valid JSON ({exc}); "
                         f"the file is corrupt, retrain or re-download it") from None
    if not isinstance(header, dict) or header.get("format") != "qbdi-model":
        raise ModelError(f"{path}: not a qbdi model header")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelError(f"{path}: model format version {version!r} is not supported by this "
                         f"qbdi (reads up to {FORMAT_VERSION}); upgrade qbdi-musicology")
    payload = data[end + 1:]
    expected = header.get("payload_bytes")
    if len(payload) != expected:
        raise ModelError(f"{path}: the file is truncated or padded ({len(payload)} tensor "
                         f"bytes, header says {expected}); re-download or retrain the model")
    digest = hashlib.sha256(payload).hexdigest()
    if digest != header.get("payload_sha256"):
        raise ModelError(f"{path}: checksum mismatch, the tensors were modified after saving; "
                         f"do not use this file, retrain or re-download the model")
    return header, payload


def _load_tensors(path: Path, payload: bytes) -> dict:
    import pickle

    import torch

    try:
        tensors = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError,
            TypeError) as exc:
        raise ModelError(f"{path}: the tensor block cannot be read safely ({type(exc).__name__}); "
                         f"the file is not a plain set of weights, do not use it") from None
    if not isinstance(tensors, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()):
        raise ModelError(f"{path}: the tensor block is not a plain name -> tensor table")
    return tensors


def load_model(path_or_name: str | os.PathLike | None = None, *,
               grid: Grid | None = None) -> LoadedModel:
    """Load a model file (None = the shipped default, a bare name = a shipped model).

    ``grid``: when given, a model trained on another grid is refused with a clear error.

    Example: ``load_model().model_id`` -> ``'pop-harmony@3f2a...'``.
    """
    from .model import BarVAE, ModelConfig

    path = resolve_model_path(path_or_name)
    header, payload = read_header(path)
    try:
        config = ModelConfig.from_dict(header.get("config", {}))
    except (ParameterError, TypeError) as exc:
        raise ModelError(f"{path}: the model configuration cannot be read ({exc}); it may "
                         f"come from a newer qbdi, upgrade qbdi-musicology") from None
    if grid is not None and config.grid != grid:
        raise ModelError(f"{path}: model grid {config.grid.time_signature}, "
                         f"{config.grid.steps} steps, pitches {config.grid.low_pitch}-"
                         f"{config.grid.high_pitch} differs from the requested grid "
                         f"{grid.time_signature}, {grid.steps} steps; use a model trained on "
                         f"that grid")
    tensors = _load_tensors(path, payload)
    extra = {k[len("extra/"):]: v for k, v in tensors.items() if k.startswith("extra/")}
    state = {k: v for k, v in tensors.items() if not k.startswith("extra/")}
    _check_shapes(path, config, state)
    model = BarVAE(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{path}: the weights do not fit the model configuration "
                         f"({first}); the file is corrupt") from None
    model.eval()
    return LoadedModel(model=model, config=config, header=header, path=path,
                       sha256=header["payload_sha256"], extra_tensors=extra)


def _check_shapes(path: Path, config, state: dict) -> None:
    """Refuse a header whose configuration does not fit its tensors, before building it.

    The header is not covered by the checksum, so an edited one could ask for a model of
    any size; the skeleton is built on torch's "meta" device, which allocates nothing.
    """
    import torch

    from .model import BarVAE

    try:
        with torch.device("meta"):
            skeleton = BarVAE(config)
    except (RuntimeError, ValueError, OverflowError) as exc:
        raise ModelError(f"{path}: the model configuration cannot be built ({exc}); "
                         f"the file is corrupt") from None
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected != found:
        wrong = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
        raise ModelError(f"{path}: the weights do not fit the model configuration in its "
                         f"header ({', '.join(wrong[:3])}); the file is corrupt or edited, "
                         f"retrain or re-download the model")


def list_models(folder: str | os.PathLike | None = None) -> list[dict]:
    """Shipped (or a folder's) models: name, path, corpus, latent size, checksum, losses."""
    folder = Path(folder) if folder else MODELS_DIR
    rows = []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            header, _ = read_header(path)
        except ModelError as exc:
            rows.append({"name": path.stem, "path": str(path), "error": str(exc)})
            continue
        info = header.get("info", {})
        rows.append({
            "name": path.stem,
            "path": str(path),
            "default": path.stem == DEFAULT_MODEL_NAME,
            "corpus": info.get("corpus", {}).get("name", "?"),
            "latent": header.get("config", {}).get("latent"),
            "harmony_dims": header.get("config", {}).get("harmony_dims"),
            "active_dims": info.get("active_dims"),
            "steps": info.get("steps"),
            "val_loss": info.get("final_losses", {}).get("val_loss"),
            "sha256": header.get("payload_sha256", "")[:12],
            "size_mb": round(path.stat().st_size / 2**20, 2),
            "description": info.get("description", ""),
        })
    return rows
