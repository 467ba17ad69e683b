"""Tests for plugins/nasnet_mobile.py (NASNet-A Mobile 4 @ 1056).

Reference numbers: Zoph et al. 2018 (arXiv:1707.07012), Table 2: 5.3M parameters and
564M mult-adds at 224x224. Cadene's ``pretrainedmodels`` NASNetAMobile with 1000 classes
(whose checkpoint nasnetamobile-7e03cead.pth these names must load) has 5,289,978
parameters in 1318 state-dict entries. Offline, CPU only, seeded.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Conv2dSame, create_pool2d
from timm.layers.pool2d_same import MaxPool2dSame

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

    pool = nm._max_pool(2, "same")
    assert isinstance(pool, MaxPool2dSame)  # timm's layer, -inf pads
    ref = _cadene_pad_crop(lambda t: F.max_pool2d(t, 3, 2, padding=1), x)
    assert torch.equal(pool(x), ref)

    pool = nm._avg_pool(2, "same")
    assert isinstance(pool, nm.AvgPool2dSameExcludePad)
    ref = _cadene_pad_crop(lambda t: F.avg_pool2d(t, 3, 2, padding=1, count_include_pad=False), x)
    torch.testing.assert_close(pool(x), ref)

    for k in (3, 5, 7):
        sep = nm.SeparableConv2d(4, 6, k, stride=2, padding="same")
        dw, pw = sep.depthwise_conv2d, sep.pointwise_conv2d
        assert isinstance(dw, Conv2dSame) and type(pw) is nn.Conv2d  # timm's create_conv2d
        ref = _cadene_pad_crop(lambda t, dw=dw, pw=pw, k=k: pw(F.conv2d(t, dw.weight, stride=2, padding=k // 2, groups=4)), x)
        with torch.no_grad():
            torch.testing.assert_close(sep(x), ref)

    # factorized-reduction path_2: Cadene pads right/bottom, crops top/left, subsamples
    path_2 = nm._factorized_paths(4, 3)[1]
    ref = path_2.conv(F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:][:, :, ::2, ::2])
    with torch.no_grad():
        torch.testing.assert_close(path_2(x), ref)


@pytest.mark.parametrize("size", [(8, 8), (9, 12), (7, 7)])
def test_avg_pool_same_excludes_pads_unlike_timm(size):
    # Ours: TF "SAME" average pool, pads excluded (TensorFlow's and Cadene's AvgPoolPad
    # semantics). timm's AvgPool2dSame zero-pads first, so the pads are averaged in: it
    # agrees in the interior and differs on the padded border. If this starts failing
    # because timm excludes pads, switch _avg_pool to create_pool2d.
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(9)) + 3.0
    ours = nm.AvgPool2dSameExcludePad(3, 2)(x)
    timm_pool = create_pool2d("avg", 3, 2, padding="same", count_include_pad=False)
    theirs = timm_pool(x)
    assert ours.shape == theirs.shape == (1, 3, -(-size[0] // 2), -(-size[1] // 2))
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], theirs[..., 1:-1, 1:-1])
    assert (ours[..., -1, :] - theirs[..., -1, :]).abs().min() > 0.5  # pads averaged in
    # odd maps: "SAME" pads 1/1, i.e. PyTorch's symmetric pool with count_include_pad=False
    odd = x[..., :7, :7]
    torch.testing.assert_close(nm.AvgPool2dSameExcludePad(3, 2)(odd), F.avg_pool2d(odd, 3, 2, padding=1, count_include_pad=False))


class _PadCrop(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.op = op

    def forward(self, x):
        return _cadene_pad_crop(self.op, x)


def _as_cadene(net: nn.Module) -> tuple[nn.Module, int]:
    """A copy of ``net`` with every "SAME" op replaced by Cadene's pad-op-crop formulation."""
    net = copy.deepcopy(net)
    swapped = 0
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv2dSame):
                assert child.stride == (2, 2), name

                def op(t, c=child):
                    return F.conv2d(t, c.weight, None, 2, c.kernel_size[0] // 2, 1, c.groups)
            elif isinstance(child, MaxPool2dSame):

                def op(t):
                    return F.max_pool2d(t, 3, 2, padding=1)
            elif isinstance(child, nm.AvgPool2dSameExcludePad):

                def op(t):
                    return F.avg_pool2d(t, 3, 2, padding=1, count_include_pad=False)
            else:
                continue
            setattr(parent, name, _PadCrop(op))
            swapped += 1
    return net, swapped


def _scaled_bn(net: NASNetAMobile) -> NASNetAMobile:
    """Seeded non-trivial BatchNorm statistics, so activations stay O(1) through the cells
    (at initialisation they shrink to ~1e-4 and the logits barely depend on the input)."""
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return net


@pytest.fixture(scope="module")
def scaled_model() -> NASNetAMobile:
    return _scaled_bn(_model().eval())


def test_model_equals_cadene_padding_at_224(scaled_model):
    # At 224x224 every "SAME" op sees an even map (cell_stem_1 56, reductions 28 and 14).
    ref, swapped = _as_cadene(scaled_model)
    # per stride-2 cell: 4 separable branches, 2 max pools, 1 average pool; 3 such cells
    assert swapped == 3 * (4 + 2 + 1)
    for conv in scaled_model.cell_stem_0.modules():  # Cadene pads cell_stem_0 symmetrically
        if isinstance(conv, nn.Conv2d):
            assert type(conv) is nn.Conv2d and conv.padding[0] == conv.kernel_size[0] // 2
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        torch.testing.assert_close(scaled_model(x), ref(x), rtol=0, atol=1e-5)


# sha256 of "\n".join(f"{key}:{tuple(shape)}") in state_dict order (the construction order,
# which fixes what a seed initialises each parameter to).
STATE_DICT_ORDER_SHA256 = "a3b1a88ad0f879d17970562ff91ac0666ef27043dcde74951ee589e9f31d519b"
# logits[0, :6] of _scaled_bn(seed 0 model) on randn(1, 3, H, W) seeded 8, recorded before
# the padding moved to timm's layers (unchanged bit for bit by that move). 331 and 45x61
# give odd maps at the "SAME" ops; timm's pad-including average pool moves them by ~2e-3.
PINNED_LOGITS = {
    (224, 224): [0.00988335, 0.1759178, 0.2229859, -0.1780113, 0.1111467, -0.0218454],
    (331, 331): [0.0103774, 0.1755005, 0.2235379, -0.176102, 0.1114606, -0.0206356],
    (45, 61): [0.006883254, 0.1670385, 0.211951, -0.175623, 0.1034118, -0.02113025],
}


def test_state_dict_order_pinned(model):
    lines = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    assert hashlib.sha256(lines.encode()).hexdigest() == STATE_DICT_ORDER_SHA256


@pytest.mark.parametrize("size", sorted(PINNED_LOGITS))
def test_seeded_outputs_pinned(scaled_model, size):
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        got = scaled_model(x)[0, :6]
    torch.testing.assert_close(got, torch.tensor(PINNED_LOGITS[size]), rtol=0, atol=1e-5)
