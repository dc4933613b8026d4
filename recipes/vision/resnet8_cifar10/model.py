"""ResNet-8, MLPerf Tiny's image-classification model: a 16-filter 3x3 stem, three residual stacks of 16, 32
and 64 filters (stride 1, 2, 2; 1x1 strided shortcut convolutions where the shape changes), global average
pooling and a 10-way linear layer — 78.7 k parameters, 12.5 M MACs on 32x32x3."""
from __future__ import annotations

from typing import Annotated

from tinyzoo.common.builders import register_model
from tinyzoo.common.keras_compat import conv2d
from tinyzoo.common.schema import INT_POS, Classes, Key
from torch import nn

Widths = Annotated[list, Key("list", item=INT_POS, length=3)]   # the three stages' filters


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, tf_padding: bool = False):
        super().__init__()
        self.conv1 = conv2d(cin, cout, 3, stride, tf_padding=tf_padding)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (nn.Sequential() if stride == 1 and cin == cout
                         else nn.Conv2d(cin, cout, 1, stride, bias=True))
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class ResNet8(nn.Module):
    def __init__(self, num_classes: int = 10, filters: tuple[int, int, int] = (16, 32, 64), tf_padding: bool = False):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, filters[0], 3, 1, 1, bias=False), nn.BatchNorm2d(filters[0]), nn.ReLU())
        self.stack1 = Block(filters[0], filters[0], 1)
        self.stack2 = Block(filters[0], filters[1], 2, tf_padding)
        self.stack3 = Block(filters[1], filters[2], 2, tf_padding)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(filters[2], num_classes)

    def forward(self, x):
        x = self.stack3(self.stack2(self.stack1(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


@register_model
def resnet8(num_classes: Classes = 10, filters: Widths = (16, 32, 64), tf_padding: bool = False) -> ResNet8:
    """`tf_padding`: TensorFlow's 'same' padding in the stride-2 convolutions (weights trained in Keras, such as
    MLPerf Tiny's reference ResNet-8)."""
    return ResNet8(num_classes, tuple(filters), tf_padding)
