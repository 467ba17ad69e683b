"""Tests for plugins/nasnet_mobile.py (NASNet-A Mobile 4 @ 1056).

Reference numbers: Zoph et al. 2018 (arXiv:1707.07012), Table 2: 5.3M parameters and
564M mult-adds at 224x224. Cadene's ``pretrainedmodels`` NASNetAMobile with 1000 classes
(whose checkpoint nasnetamobile-7e03cead.pth these names must load) has 5,289,978
parameters in 1318 state-dict entries. Offline, CPU only, seeded.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

# Load from the file, not the installed package: this works whether or not ``zoo`` is
# installed, and always tests this checkout's copy.
_PATH = Path(__file__).resolve().parents[1] / "plugins" / "nasnet_mobile.py"
_spec = importlib.util.spec_from_file_location("_zoo_test_nasnet_mobile", _PATH)
nm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nm)
NASNetAMobile = nm.NASNetAMobile

PAPER_PARAMS = 5.3e6
PAPER_MULT_ADDS = 564e6
CADENE_PARAMS = 5_289_978
CADENE_STATE_DICT_ENTRIES = 1318
# sha256 of "\n".join(f"{key}:{tuple(shape)}" for key, shape in sorted(state_dict)), computed
# from Cadene's pretrainedmodels 0.7.4 nasnet_mobile.NASNetAMobile(num_classes=1000).
CADENE_LAYOUT_SHA256 = "889a11929c2cf4c3e4e36b0defa5680fda60926ea86f946e09cd29faaa78e698"


def _model(seed: int = 0, **kwargs) -> NASNetAMobile:
    torch.manual_seed(seed)
    return NASNetAMobile(**kwargs)


@pytest.fixture(scope="module")
def model() -> NASNetAMobile:
    """A shared eval-mode model; tests using it must not mutate it."""
    return _model().eval()


def test_param_count_matches_paper_and_cadene(model):
    n = sum(p.numel() for p in model.parameters())
    assert abs(n / PAPER_PARAMS - 1) <= 0.02
    assert n == CADENE_PARAMS


def test_mult_adds_at_224_match_paper(model):
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        feats = model.forward_features(x)
        logits = model.forward_head(feats)
    mult_adds = counter.get_total_flops() / 2
    assert abs(mult_adds / PAPER_MULT_ADDS - 1) <= 0.02, mult_adds
    assert feats.shape == (1, 1056, 7, 7)
    assert logits.shape == (1, 1000) and logits.dtype == torch.float32


def test_state_dict_layout_matches_cadene(model):
    sd = model.state_dict()
    assert len(sd) == CADENE_STATE_DICT_ENTRIES
    lines = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in sorted(sd.items()))
    assert hashlib.sha256(lines.encode()).hexdigest() == CADENE_LAYOUT_SHA256
    # a readable spot check of the same thing
    expected = {
        "conv0.conv.weight": (32, 3, 3, 3),
        "conv0.bn.running_var": (32,),
        "cell_stem_0.conv_1x1.conv.weight": (11, 32, 1, 1),
        "cell_stem_0.comb_iter_0_right.separable_1.depthwise_conv2d.weight": (32, 1, 7, 7),
        "cell_stem_0.comb_iter_0_right.bn_sep_1.weight": (11,),
        "cell_stem_1.path_2.conv.weight": (11, 32, 1, 1),
        "cell_stem_1.final_path_bn.running_mean": (22,),
        "cell_0.path_1.conv.weight": (22, 44, 1, 1),
        "cell_1.conv_prev_1x1.conv.weight": (44, 88, 1, 1),
        "cell_3.comb_iter_4_left.bn_sep_2.bias": (44,),
        "reduction_cell_0.comb_iter_2_right.separable_2.pointwise_conv2d.weight": (88, 88, 1, 1),
        "cell_6.path_2.conv.weight": (44, 264, 1, 1),
        "reduction_cell_1.conv_prev_1x1.conv.weight": (176, 528, 1, 1),
        "cell_15.comb_iter_1_left.separable_1.depthwise_conv2d.weight": (176, 1, 5, 5),
        "last_linear.weight": (1000, 1056),
        "last_linear.bias": (1000,),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    assert isinstance(model.last_linear, nn.Linear)


def test_forward_backward_train_mode():
    net = _model(drop_rate=0.2).train()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    logits = net(x)
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.tensor([3, 7])).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert net.last_linear.weight.grad.abs().sum() > 0


def test_reset_classifier_and_head():
    net = _model().eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    net.reset_classifier(10)
    assert net.num_classes == 10 and isinstance(net.last_linear, nn.Linear)
    with torch.no_grad():
        assert net(x).shape == (2, 10)
        feats = net.forward_features(x)
        assert feats.shape == (2, 1056, 2, 2)
        assert net.forward_head(feats, pre_logits=True).shape == (2, 1056)
    net.reset_classifier(0)
    with torch.no_grad():
        assert net(x).shape == (2, 1056)


@pytest.mark.parametrize("size", [(32, 32), (45, 61), (100, 100)])
def test_small_and_odd_input_sizes(model, size):
    # 45x61 gives odd feature maps at the stride-2 cells, where Cadene's original fails.
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(3)))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()


def test_safetensors_roundtrip_is_exact(tmp_path):
    from safetensors.torch import load_file, save_file

    src = _model(seed=4).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = src(x)
    path = tmp_path / "nasnet_mobile.safetensors"
    save_file(src.state_dict(), str(path))

    dst = _model(seed=6)
    dst.load_state_dict(load_file(str(path)), strict=True)
    dst.eval()
    with torch.no_grad():
        assert torch.equal(dst(x), expected)


def test_constructor_aliases_and_validation():
    assert _model(penultimate_filters=1056).num_features == 1056
    with pytest.raises(ValueError):
        NASNetAMobile(num_features=1056, penultimate_filters=2112)
    with pytest.raises(ValueError):
        NASNetAMobile(num_features=1000)
    net = _model(num_classes=5, in_chans=1)
    with torch.no_grad():
        assert net.eval()(torch.randn(1, 1, 32, 32)).shape == (1, 5)


# --- padding: "SAME" ops equal Cadene's pad-top/left, op, crop formulation on even sizes ---

def _cadene_pad_crop(op, x):
    """Cadene's MaxPoolPad / AvgPoolPad / BranchSeparables(name='specific') padding trick."""
    return op(F.pad(x, (1, 0, 1, 0)))[:, :, 1:, 1:]


@pytest.mark.parametrize("size", [(8, 8), (14, 28)])
def test_same_padding_matches_cadene_on_even_maps(size):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 4, *size, generator=g)

    got = nm.MaxPool2dSame(3, 2)(x)
    ref = _cadene_pad_crop(lambda t: F.max_pool2d(t, 3, 2, padding=1), x)
    assert torch.equal(got, ref)

    got = nm.AvgPool2dSame(3, 2)(x)
    ref = _cadene_pad_crop(lambda t: F.avg_pool2d(t, 3, 2, padding=1, count_include_pad=False), x)
    torch.testing.assert_close(got, ref)

    for k in (3, 5, 7):
        sep = nm.SeparableConv2d(4, 6, k, stride=2, padding="same")
        dw, pw = sep.depthwise_conv2d, sep.pointwise_conv2d
        ref = _cadene_pad_crop(
            lambda t: pw(F.conv2d(t, dw.weight, stride=2, padding=k // 2, groups=4)), x)
        with torch.no_grad():
            torch.testing.assert_close(sep(x), ref)

    # factorized-reduction path_2: Cadene pads right/bottom, crops top/left, subsamples
    path_2 = nm._factorized_paths(4, 3)[1]
    ref = path_2.conv(F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:][:, :, ::2, ::2])
    with torch.no_grad():
        torch.testing.assert_close(path_2(x), ref)


def test_same_padding_amounts():
    assert nm.same_padding((28, 28), 3, 2) == (0, 1, 0, 1)
    assert nm.same_padding((28, 27), 5, 2) == (2, 2, 1, 2)
    assert nm.same_padding((7, 7), 7, 2) == (3, 3, 3, 3)
    assert nm.same_padding((10, 10), 3, 1) == (1, 1, 1, 1)
