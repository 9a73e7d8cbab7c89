"""save_pretrained → load is exact; wrong or unsafe weight files are refused clearly."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file

from comet_zoo.errors import CometError
from comet_zoo.core.model import COMET
from conftest import tiny_config


@pytest.fixture
def saved(tmp_path):
    model = COMET(tiny_config(encoder="recurrent"))
    model.save_pretrained(tmp_path / "m")
    return model, tmp_path / "m"


def test_round_trip_gives_identical_energies(saved):
    model, path = saved
    x = torch.rand(3, 3, 16, 16)
    z = torch.randn(3, 2, 4)
    for loaded in (COMET.load(path), COMET.from_pretrained(path)):
        assert loaded.config == model.config
        assert torch.equal(loaded.energy(x, z), model.energy(x, z))
        assert torch.equal(loaded.infer(x), model.infer(x))


def test_fp16_weights_load_into_the_fp32_model(saved):
    model, path = saved
    state = {k: v.half() for k, v in load_file(path / "model.safetensors").items()}
    save_file(state, path / "model.safetensors")
    loaded = COMET.load(path)
    assert next(loaded.parameters()).dtype == torch.float32
    x, z = torch.rand(2, 3, 16, 16), torch.randn(2, 2, 4)
    assert torch.allclose(loaded.energy(x, z), model.energy(x, z), atol=1e-2)


def test_wrong_shape_is_refused(saved):
    _, path = saved
    state = load_file(path / "model.safetensors")
    state["energy_net.head.weight"] = torch.zeros(1, 3)
    save_file(state, path / "model.safetensors")
    with pytest.raises(CometError, match=r"energy_net.head.weight has shape \(1, 3\)"):
        COMET.load(path)


def test_missing_and_unexpected_keys_are_refused(saved):
    _, path = saved
    state = load_file(path / "model.safetensors")
    state.pop("energy_net.head.bias")
    state["extra.weight"] = torch.zeros(2)
    save_file(state, path / "model.safetensors")
    with pytest.raises(CometError, match="missing keys.*energy_net.head.bias.*unexpected keys.*extra.weight"):
        COMET.load(path)


class _Payload:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_pickle_payload_is_refused_and_never_run(saved, capsys):
    _, path = saved
    (path / "model.safetensors").write_bytes(pickle.dumps({"w": _Payload()}))
    with pytest.raises(CometError, match="not a valid safetensors file"):
        COMET.load(path)
    assert "pickle code ran" not in capsys.readouterr().out


def test_a_folder_with_only_pickle_weights_is_refused(saved):
    _, path = saved
    (path / "model.safetensors").rename(path / "pytorch_model.bin")
    with pytest.raises(CometError, match="pytorch_model.bin: pickle formats are refused"):
        COMET.load(path)


def test_bad_config_is_refused(saved):
    _, path = saved
    (path / "config.json").write_text('{"image_size": 16, "colour": "blue"}')
    with pytest.raises(CometError, match="unknown model config keys: colour"):
        COMET.load(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(CometError, match="invalid JSON"):
        COMET.load(path)


def test_transfer_weights_fills_a_model_with_an_added_component_and_refuses_misfits():
    from comet_zoo.core.weights import transfer_weights

    # the recurrent encoder and the energy have no per-component weights: K 2 → K 3 fits whole
    source = COMET(tiny_config(encoder="recurrent"))
    target = COMET(tiny_config(encoder="recurrent", num_components=3, pos_embed=[True, False, False]))
    assert transfer_weights(target, source.state_dict(), "src") == []
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    # the first two components' energies are the source's exactly
    x, z = torch.rand(2, 3, 16, 16), torch.randn(2, 3, 4)
    assert torch.allclose(target.energy(x, z)[:, :2], source.energy(x, z[:, :2]), atol=1e-6)

    # the conv encoder's output layer is sized by K: a misfit names the tensor, and nothing is copied
    fresh = COMET(tiny_config(num_components=3, pos_embed=[True, False, False]))
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    with pytest.raises(CometError, match=r"src does not fit this model: encoder\.mlp\.2\.weight has shape"):
        transfer_weights(fresh, COMET(tiny_config()).state_dict(), "src")
    assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items())
    with pytest.raises(CometError, match="src does not fit this model: it has"):
        transfer_weights(COMET(tiny_config()), source.state_dict(), "src")   # recurrent keys into a conv encoder

    # tensors the source lacks keep their init and are named
    partial = {k: v for k, v in source.state_dict().items() if not k.startswith("encoder.")}
    kept = transfer_weights(COMET(tiny_config(encoder="recurrent")), partial, "src")
    assert kept and all(k.startswith("encoder.") for k in kept)
