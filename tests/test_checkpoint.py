"""Model files: round trip, and every kind of bad file is a clear ModelError."""

from __future__ import annotations

import hashlib
import io
import json
import pickle

import pytest
import torch

from qbdi_musicology.checkpoint import (FORMAT_VERSION, MAGIC, list_models, load_model, pack,
                                        save_model)
from qbdi_musicology.errors import ModelError
from qbdi_musicology.grid import Grid
from qbdi_musicology.model import BarVAE, ModelConfig


@pytest.fixture()
def saved(tmp_path):
    model = BarVAE(ModelConfig(hidden=16, latent=6, harmony_dims=3, harmony_weight=1.0))
    path = save_model(tmp_path / "tiny.qbdi", model,
                      info={"corpus": {"name": "unit", "fingerprint": "abc"}, "seed": 7})
    return model, path


def test_round_trip_keeps_weights_config_and_info(saved):
    model, path = saved
    loaded = load_model(path)
    assert loaded.config == model.config
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor)
    assert loaded.info["seed"] == 7
    assert loaded.header["format_version"] == FORMAT_VERSION
    assert loaded.model_id.startswith("tiny@") and len(loaded.sha256) == 64


def test_same_model_same_bytes(saved, tmp_path):
    model, path = saved
    again = save_model(tmp_path / "again.qbdi", model,
                       info={"corpus": {"name": "unit", "fingerprint": "abc"}, "seed": 7})
    assert again.read_bytes() == path.read_bytes()


def test_tampered_tensor_is_detected(saved):
    _, path = saved
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_model(path)


def test_truncated_file_is_detected(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])
    with pytest.raises(ModelError, match="truncated"):
        load_model(path)


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "random.qbdi"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ModelError, match="not a qbdi model"):
        load_model(path)


class _Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_plain_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.qbdi"
    path.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ModelError):
        load_model(path)


def test_code_inside_a_well_formed_container_is_refused(tmp_path, capsys):
    # A file with a correct header and checksum whose tensor block carries code:
    # weights_only loading must refuse it without running anything.
    payload = pickle.dumps({"enc_hidden.weight": _Boom()})
    config = ModelConfig(hidden=4, latent=2).to_dict()
    header = {"format": "qbdi-model", "format_version": 1, "kind": "bar-vae", "config": config,
              "info": {}, "payload_bytes": len(payload),
              "payload_sha256": hashlib.sha256(payload).hexdigest()}
    path = tmp_path / "evil2.qbdi"
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    with pytest.raises(ModelError, match="cannot be read safely"):
        load_model(path)
    assert "must never run" not in capsys.readouterr().out


def test_newer_format_is_refused(saved):
    model, path = saved
    data = pack("bar-vae", model.config.to_dict(), dict(model.state_dict()))
    head, rest = data[len(MAGIC):].split(b"\n", 1)
    header = json.loads(head)
    header["format_version"] = FORMAT_VERSION + 1
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + rest)
    with pytest.raises(ModelError, match="upgrade"):
        load_model(path)


def test_other_grid_is_refused(tmp_path):
    model = BarVAE(ModelConfig(grid=Grid(beats=3), hidden=4, latent=2))
    path = save_model(tmp_path / "waltz.qbdi", model)
    assert load_model(path).config.grid == Grid(beats=3)
    with pytest.raises(ModelError, match="grid"):
        load_model(path, grid=Grid())


def test_missing_model_names_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="qbdi train"):
        load_model(tmp_path / "nope.qbdi")


def test_list_models_reports_a_folder(saved, tmp_path):
    rows = list_models(tmp_path)
    assert [r["name"] for r in rows] == ["tiny"]
    assert rows[0]["latent"] == 6 and rows[0]["corpus"] == "unit"
