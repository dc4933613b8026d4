"""Stock PyTorch layers and small models for the Ethos-U compatibility table (scripts/compatibility.py), each a
factory `tinyzoo deploy scripts/compat_models.py:<name>` takes. Every layer is used as PyTorch ships it, wrapped
only where it needs a fixed second argument (a length, a mask flag) or a head to make one output tensor."""
from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F


def _seeded(module: nn.Module) -> nn.Module:
    return module.eval()


class _Sequence(nn.Module):
    """(1, tokens, dim) in → the layer → (1, tokens, dim) out."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        out = self.layer(x)
        return out[0] if isinstance(out, tuple) else out


def transformer_encoder_layer():
    torch.manual_seed(0)
    return _seeded(nn.TransformerEncoderLayer(64, 4, 128, 0.0, activation="gelu", batch_first=True, norm_first=True))


class _SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(64, 4, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def multihead_attention():
    torch.manual_seed(0)
    return _seeded(_SelfAttention())


class _CausalSdpa(nn.Module):
    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.heads, self.qkv, self.out = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


def sdpa_causal():
    torch.manual_seed(0)
    return _seeded(_CausalSdpa())


def gru():
    torch.manual_seed(0)
    return _seeded(_Sequence(nn.GRU(10, 64, batch_first=True)))


def lstm():
    torch.manual_seed(0)
    return _seeded(_Sequence(nn.LSTM(10, 64, batch_first=True)))


class _ConvThen(nn.Module):
    """conv → the layer → conv, on (1, 8, 16, 16) feature maps."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.conv, self.layer, self.head = nn.Conv2d(8, 16, 3, padding=1), layer, nn.Conv2d(16, 8, 3, padding=1)

    def forward(self, x):
        return self.head(self.layer(self.conv(x)))


def upsample_nearest():
    torch.manual_seed(0)
    return _seeded(_ConvThen(nn.Upsample(scale_factor=2, mode="nearest")))


def upsample_bilinear():
    torch.manual_seed(0)
    return _seeded(_ConvThen(nn.Upsample(scale_factor=2, mode="bilinear")))


def prelu():
    torch.manual_seed(0)
    return _seeded(_ConvThen(nn.PReLU(16)))


def gelu():
    torch.manual_seed(0)
    return _seeded(_ConvThen(nn.GELU()))


def silu():
    torch.manual_seed(0)
    return _seeded(_ConvThen(nn.SiLU()))


def hardswish():
    torch.manual_seed(0)
    return _seeded(_ConvThen(nn.Hardswish()))


def linear_batchnorm1d():
    torch.manual_seed(0)
    return _seeded(nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10)))


def layernorm():
    torch.manual_seed(0)
    return _seeded(nn.Sequential(nn.Linear(64, 64), nn.LayerNorm(64), nn.Linear(64, 64)))


def vision_transformer_small():
    """torchvision's VisionTransformer at CIFAR size: 32x32, 4x4 patches, 2 layers of width 64."""
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    model = VisionTransformer(image_size=32, patch_size=4, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=128,
                              num_classes=10)
    nn.init.normal_(model.heads.head.weight, std=0.02)   # torchvision zero-initialises the head: all-zero outputs
    return _seeded(model)


class _Conformer(nn.Module):
    """torchaudio's Conformer on 49 frames of 40 features, all frames valid (the lengths are a constant)."""

    def __init__(self):
        super().__init__()
        from torchaudio.models import Conformer

        self.conformer = Conformer(input_dim=40, num_heads=2, ffn_dim=64, num_layers=2, depthwise_conv_kernel_size=15)
        self.register_buffer("lengths", torch.tensor([49]))

    def forward(self, x):
        return self.conformer(x, self.lengths)[0]


def torchaudio_conformer():
    torch.manual_seed(0)
    return _seeded(_Conformer())


def torchaudio_conv_tasnet():
    """torchaudio's ConvTasNet (speech separation) at a small configuration, on 0.5 s of 8 kHz audio."""
    from torchaudio.models import ConvTasNet

    torch.manual_seed(0)
    return _seeded(ConvTasNet(num_sources=2, enc_kernel_size=16, enc_num_feats=64, msk_kernel_size=3,
                              msk_num_feats=32, msk_num_hidden_feats=64, msk_num_layers=2, msk_num_stacks=1))


def _torchvision(name: str, size: int) -> nn.Module:
    """A torchvision model with random weights whose batch-norm statistics are recomputed on 32 seeded random
    images of the input size: at torchvision's initialisation the activations of deep networks shrink towards 0
    through the layers in eval mode (MobileNetV2's outputs are ~1e-9), which would make int8 figures meaningless;
    with the statistics of real-looking activations every layer is normalised as in a trained network."""
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None          # a cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, 3, size, size))
    return model.eval()


# One factory per torchvision case (`tinyzoo deploy scripts/compat_models.py:<name>`): name → (model, input size).
TORCHVISION_CASES = {
    "mobilenet_v2_224": ("mobilenet_v2", 224), "mobilenet_v2_96": ("mobilenet_v2", 96),
    "mobilenet_v3_small": ("mobilenet_v3_small", 224), "mobilenet_v3_large": ("mobilenet_v3_large", 224),
    "resnet18": ("resnet18", 224), "efficientnet_b0": ("efficientnet_b0", 224), "squeezenet1_1": ("squeezenet1_1", 224),
    "shufflenet_v2_x0_5": ("shufflenet_v2_x0_5", 224), "mnasnet0_5": ("mnasnet0_5", 224),
    "regnet_x_400mf": ("regnet_x_400mf", 224),
}
globals().update({case: functools.partial(_torchvision, name, size)
                  for case, (name, size) in TORCHVISION_CASES.items()})
mobilenet_v2_224 = globals()["mobilenet_v2_224"]   # named here for the scripts that import it
