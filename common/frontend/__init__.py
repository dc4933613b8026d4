"""Feature front ends shared by recipes and reproduced by the firmware apps."""
from tinyzoo.common.frontend.mfcc import (
    MFCC,
    MfccConfig,
    SpecAugment,
    dct_matrix,
    hann_window,
    mel_filterbank,
    mfcc_numpy,
)

__all__ = ["MFCC", "MfccConfig", "SpecAugment", "dct_matrix", "hann_window", "mel_filterbank", "mfcc_numpy"]
