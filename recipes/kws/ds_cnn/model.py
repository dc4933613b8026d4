"""DS-CNN for keyword spotting (MLPerf Tiny KWS reference model; Zhang et al., "Hello Edge", 2017).

Input: MFCC features (N, 1, 49, 10). A 10x4 stride-2 convolution, four depthwise-separable blocks
(3x3 depthwise + 1x1 pointwise, each followed by batch norm and ReLU), global average pooling and a
linear classifier. Every layer is a standard Ethos-U operator (conv, depthwise conv, average pool,
fully connected), so the whole network runs on the NPU on U55, U65 and U85.
"""
from tinyzoo.common.builders import register_model
from tinyzoo.common.keras_compat import conv2d
from tinyzoo.common.schema import Classes, Dropout, PositiveInt
from torch import nn


def _conv_bn_relu(in_ch: int, out_ch: int, kernel, stride=1, padding=0, groups=1, tf_padding=False) -> nn.Sequential:
    return nn.Sequential(
        conv2d(in_ch, out_ch, kernel, stride, padding=padding, groups=groups, tf_padding=tf_padding),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(),
    )


class DSCNN(nn.Module):
    def __init__(self, num_classes: int = 12, filters: int = 64, blocks: int = 4, dropout: float = 0.2,
                 tf_padding: bool = False):
        super().__init__()
        # 49x10 -> 25x5: symmetric padding (5, 1), or TensorFlow's 'same' (4 top, 5 bottom, 1 left, 1 right)
        self.stem = _conv_bn_relu(1, filters, (10, 4), stride=2, padding=(5, 1), tf_padding=tf_padding)
        self.stem_dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[
            nn.Sequential(
                _conv_bn_relu(filters, filters, 3, padding=1, groups=filters),  # depthwise
                _conv_bn_relu(filters, filters, 1),                             # pointwise
            )
            for _ in range(blocks)
        ])
        self.head_dropout = nn.Dropout(dropout)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(filters, num_classes)

    def forward(self, x):
        x = self.stem_dropout(self.stem(x))
        x = self.head_dropout(self.blocks(x))
        return self.classifier(self.pool(x).flatten(1))


@register_model
def ds_cnn(num_classes: Classes = 12, filters: PositiveInt = 64, blocks: PositiveInt = 4, dropout: Dropout = 0.2,
           tf_padding: bool = False) -> DSCNN:
    """The MLPerf Tiny DS-CNN: 64 filters, 4 depthwise-separable blocks; `tf_padding`: TensorFlow's 'same'
    padding in the first convolution (weights trained in Keras, such as MLPerf Tiny's reference model)."""
    return DSCNN(num_classes=num_classes, filters=filters, blocks=blocks, dropout=dropout, tf_padding=tf_padding)
