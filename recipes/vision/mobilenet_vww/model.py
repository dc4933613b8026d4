"""MobileNetV1 at width 0.25, the MLPerf Tiny visual-wake-words model (Howard et al., 2017): a stride-2 3x3
stem and 13 depthwise-separable blocks (stride 2 at blocks 2, 4, 6 and 12), global average pooling over the
3x3 map of a 96x96 input, and a 2-way linear layer."""
from __future__ import annotations

from typing import Annotated

from tinyzoo.common.builders import register_model
from tinyzoo.common.keras_compat import conv2d
from tinyzoo.common.schema import Classes, Dropout, Key, PositiveNumber
from torch import nn

# (output channels at width 1.0, stride) of the 13 depthwise-separable blocks
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1)]


ACTIVATIONS = {"relu6": nn.ReLU6, "relu": nn.ReLU}


def conv_bn(cin: int, cout: int, kernel: int, stride: int, groups: int = 1, activation: str = "relu6",
            tf_padding: bool = False) -> nn.Sequential:
    return nn.Sequential(conv2d(cin, cout, kernel, stride, groups=groups, tf_padding=tf_padding),
                         nn.BatchNorm2d(cout), ACTIVATIONS[activation]())


class MobileNetV1(nn.Module):
    def __init__(self, num_classes: int = 2, width: float = 0.25, dropout: float = 0.1, activation: str = "relu6",
                 tf_padding: bool = False):
        super().__init__()
        ch = lambda c: max(8, int(c * width))
        kw = {"activation": activation, "tf_padding": tf_padding}
        layers = [conv_bn(3, ch(32), 3, 2, **kw)]
        cin = ch(32)
        for cout, stride in BLOCKS:
            layers += [conv_bn(cin, cin, 3, stride, groups=cin, **kw), conv_bn(cin, ch(cout), 1, 1, **kw)]
            cin = ch(cout)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.dropout(self.pool(self.features(x)).flatten(1)))


@register_model
def mobilenet_v1(num_classes: Classes = 2, width: PositiveNumber = 0.25, dropout: Dropout = 0.1,
                 activation: Annotated[str, Key("str", choices=("relu6", "relu"))] = "relu6",
                 tf_padding: bool = False) -> MobileNetV1:
    """`activation` after every convolution; `tf_padding`: TensorFlow's 'same' padding in the stride-2 layers
    (weights trained in Keras, such as MLPerf Tiny's reference VWW model: ReLU, no dropout)."""
    return MobileNetV1(num_classes, width, dropout, activation, tf_padding)
