"""Dense autoencoder for anomaly detection on machine sounds (MLPerf Tiny AD reference model; the DCASE 2020
Task 2 baseline).

Input: a 640-value window of log-mel frames (N, 640), common.anomaly.LogMelWindows. Four Linear layers of 128
units, a Linear bottleneck of 8, four Linear layers of 128 (each followed by batch norm and ReLU), and a linear
output of 640 values: the reconstruction, whose mean squared error against the input is the anomaly score. Every
Linear keeps its bias as Keras' Dense does (before batch norm too), so Keras weights map one to one; Keras' batch
norm epsilon (1e-3) is folded into the running variance when they are loaded (common.keras_compat), so the
torch layers keep their default epsilon. (MLPerf's AD .tflite files leave out the Dense biases in front of batch norm;
scripts/convert_mlperf.py's checkpoint of the reference weights sets those biases to zero to match them.) 265,864
parameters with batch norm folded into the Linear layers.
Linear, batch norm (folded) and ReLU are standard Ethos-U operators: the whole network runs on the NPU.
"""
from tinyzoo.common.builders import register_model
from tinyzoo.common.schema import PositiveInt
from torch import nn


def _linear_bn_relu(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, out_features), nn.BatchNorm1d(out_features), nn.ReLU())


class DenseAutoencoder(nn.Module):
    def __init__(self, inputs: int = 640, hidden: int = 128, bottleneck: int = 8, layers: int = 4):
        super().__init__()
        widths = [inputs] + [hidden] * layers
        self.encoder = nn.Sequential(*[_linear_bn_relu(a, b) for a, b in zip(widths, widths[1:])],
                                     _linear_bn_relu(hidden, bottleneck))
        widths = [bottleneck] + [hidden] * layers
        self.decoder = nn.Sequential(*[_linear_bn_relu(a, b) for a, b in zip(widths, widths[1:])],
                                     nn.Linear(hidden, inputs))

    def forward(self, x):
        return self.decoder(self.encoder(x))


@register_model
def ad_autoencoder(inputs: PositiveInt = 640, hidden: PositiveInt = 128, bottleneck: PositiveInt = 8,
                   layers: PositiveInt = 4) -> DenseAutoencoder:
    """The MLPerf Tiny AD autoencoder: 640 inputs, `layers` x 128 units, an 8-unit bottleneck, `layers` x 128,
    640 outputs."""
    return DenseAutoencoder(inputs=inputs, hidden=hidden, bottleneck=bottleneck, layers=layers)
