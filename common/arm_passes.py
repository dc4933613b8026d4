"""Graph passes the chain adds to ExecuTorch's Arm backend pipeline, for every model it lowers (recipes and
`tinyzoo deploy` alike): each rewrites a pattern ExecuTorch 1.5.1 hands Vela in a form that costs NPU cycles the
same arithmetic does not need. They are registered around the lowering only (`registered()`), through the
backend's own insertion points (`register_pass_insertions_after`) and its list of skipped passes.

- `FuseQuantizedActivationIntoLinearPass` in place of ExecuTorch's FuseQuantizedActivationPass: a ReLU after a
  convolution stays a CLAMP, which Vela fuses into the convolution (see the class).
- `FoldPadIntoConvPass`: a zero `F.pad` in front of a convolution (TensorFlow's asymmetric 'same' padding, as
  `common.keras_compat.Conv2dSame` writes it) becomes the convolution's own padding. TOSA's CONV2D and
  DEPTHWISE_CONV2D take a padding per side, which the NPU applies for free; left as a PAD operator, Vela copies
  the whole tensor in memory first (a MemoryCopy pass: 38,000 cycles for a 96x96x3 image on U55-256).
"""
from __future__ import annotations

import contextlib

import torch
from executorch.backends.arm._passes import ArmPass, arm_pass_manager
from executorch.backends.arm._passes.fuse_quantized_activation_pass import (
    FuseQuantizedActivationPass,
)
from executorch.backends.arm._passes.rewrite_bool_to_fp32_cast_via_int8_pass import (
    RewriteBoolToFp32CastViaInt8Pass,
)
from executorch.backends.arm._passes.rewrite_conv_pass import RewriteConvPass
from executorch.exir.dialects._ops import ops as exir_ops
from executorch.exir.pass_base import PassResult

PADS = (exir_ops.edge.aten.constant_pad_nd.default, exir_ops.edge.aten.pad.default)
PERMUTE = exir_ops.edge.aten.permute_copy.default
CONVS = (exir_ops.backend.tosa.CONV2D.default, exir_ops.backend.tosa.DEPTHWISE_CONV2D.default)


def _same_qparams(node: torch.fx.Node) -> bool:
    """The pad's int8 input and output share scale and zero point (the Arm quantizer annotates it so), so the
    convolution reads the same integers with or without it."""
    inputs, outputs = node.meta.get("input_qparams") or {}, node.meta.get("output_qparams") or {}
    if not inputs and not outputs:
        return True   # a float graph
    if 0 not in inputs or 0 not in outputs:
        return False
    a, b = inputs[0], outputs[0]
    return float(a.get_scale_per_tensor()) == float(b.get_scale_per_tensor()) and \
        int(a.get_zp_per_tensor()) == int(b.get_zp_per_tensor())


class FoldPadIntoConvPass(ArmPass):
    """x → pad(constant 0, the two spatial dims of NCHW) → [NCHW→NHWC permute] → CONV2D/DEPTHWISE_CONV2D(pad 0)
    becomes x → [permute] → CONV2D(pad). Runs after RewriteConvPass (the TOSA convolution with its
    [top, bottom, left, right] padding exists) and before RewritePadPass."""

    _passes_required_after: set = set()

    def call(self, graph_module: torch.fx.GraphModule) -> PassResult:
        modified = False
        for conv in list(graph_module.graph.nodes):
            if conv.op != "call_function" or conv.target not in CONVS:
                continue
            reader = conv   # the node that reads the padded tensor: the conv, or the layout permute before it
            if isinstance(conv.args[0], torch.fx.Node) and conv.args[0].target == PERMUTE \
                    and len(conv.args[0].users) == 1:
                reader = conv.args[0]
            pad_node = reader.args[0]
            if not isinstance(pad_node, torch.fx.Node) or pad_node.target not in PADS or len(pad_node.users) != 1:
                continue
            source, pad = pad_node.args[0], list(pad_node.args[1])
            mode = pad_node.args[2] if len(pad_node.args) > 2 else pad_node.kwargs.get("mode", "constant")
            value = pad_node.args[3] if len(pad_node.args) > 3 else pad_node.kwargs.get("value", None)
            if pad_node.target == PADS[0]:
                mode, value = "constant", (pad_node.args[2] if len(pad_node.args) > 2
                                           else pad_node.kwargs.get("value", 0))
            conv_pad = list(conv.args[4])
            if mode != "constant" or (value or 0) != 0 or len(pad) != 4 or any(p < 0 for p in pad) \
                    or any(conv_pad) or len(conv_pad) != 4 or not _same_qparams(pad_node):
                continue
            left, right, top, bottom = pad
            height, width = pad_node.meta["val"].shape[-2:]
            weight = conv.args[1].meta["val"].shape   # OHWI (CONV2D) or HWCM (DEPTHWISE_CONV2D)
            kh, kw = (weight[1], weight[2]) if conv.target == CONVS[0] else (weight[0], weight[1])
            stride, dilation = list(conv.args[3]), list(conv.args[5])
            # TOSA wants (in + pads - dilated kernel) divisible by the stride: trim the trailing pad as
            # RewriteConvPass does (those rows and columns are never read)
            bottom -= (height - (kh - 1) * dilation[0] - 1) % stride[0]
            right -= (width - (kw - 1) * dilation[1] - 1) % stride[1]
            if bottom < 0 or right < 0:
                continue
            if reader is not conv:
                reader.replace_input_with(pad_node, source)
                reader.meta["val"] = source.meta["val"].permute(*reader.args[1])
            args = list(conv.args)
            args[0] = source if reader is conv else reader
            args[4] = [top, bottom, left, right]
            conv.args = tuple(args)
            graph_module.graph.erase_node(pad_node)
            modified = True
        if modified:
            graph_module.graph.eliminate_dead_code()
            graph_module.recompile()
        return PassResult(graph_module, modified)


class FuseQuantizedActivationIntoLinearPass(FuseQuantizedActivationPass):
    """ExecuTorch's FuseQuantizedActivationPass for linear layers only. The original also deletes a ReLU/ReLU6
    after a convolution and folds it into the convolution's int8 output range, so the TOSA graph holds CONV →
    RESCALE with no CLAMP. The integers are the same either way, but Vela 5.1's cost model then schedules the
    convolution as one without a fused activation, which its U55 output stage prices at 1 cycle per element
    instead of 0.5 (U55-128) or 0.25 (U55-256): a 1x1 convolution of DS-CNN costs 9,288 cycles instead of
    TFLite's 5,944. Left as a CLAMP after a convolution, Vela fuses it as it does TFLite's fused ReLU. A linear
    layer's activation is still folded: its quantization needs it (the linear's output is not quantized on its
    own)."""

    def call(self, graph_module: torch.fx.GraphModule) -> PassResult:
        modified = False
        for node in list(graph_module.graph.nodes):
            if node.op != "call_function" or not self._is_fuseable_quantized_activation(node):
                continue
            source = node.args[0]
            if source.target != exir_ops.edge.aten.linear.default or len(source.users) != 1:
                continue
            self._set_quant_qmin_to_zp(next(iter(node.users)))
            node.replace_all_uses_with(source)
            graph_module.graph.erase_node(node)
            modified = True
        if modified:
            graph_module.recompile()
            graph_module = ArmPass.call(self, graph_module).graph_module
        return PassResult(graph_module, modified)


PASSES_AFTER = {RewriteConvPass: (FoldPadIntoConvPass,)}
# ExecuTorch passes the chain replaces: (the pass, its replacement, the pass the replacement runs before)
REPLACED = ((FuseQuantizedActivationPass, FuseQuantizedActivationIntoLinearPass, RewriteBoolToFp32CastViaInt8Pass),)
SKIPPED = tuple(original for original, _, _ in REPLACED)


@contextlib.contextmanager
def registered():
    """The chain's passes in ExecuTorch's Arm pipeline for the duration of one lowering."""
    saved = {k: (list(v.before_passes), list(v.after_passes))
             for k, v in arm_pass_manager._registered_pass_insertions.items()}
    manager = arm_pass_manager.ArmPassManager
    configure = manager.configure_skip_passes

    def configure_skip_passes(self):
        self._skip_pass_types = tuple(configure(self)) + SKIPPED
        return self._skip_pass_types

    try:
        for target, passes in PASSES_AFTER.items():
            arm_pass_manager.register_pass_insertions_after(target, [p() for p in passes])
        for _, replacement, before in REPLACED:
            arm_pass_manager.register_pass_insertions_before(before, [replacement()])
        manager.configure_skip_passes = configure_skip_passes
        yield
    finally:
        manager.configure_skip_passes = configure
        arm_pass_manager.clear_registered_pass_insertions()
        for target, (before, after) in saved.items():
            if before:
                arm_pass_manager.register_pass_insertions_before(target, before)
            if after:
                arm_pass_manager.register_pass_insertions_after(target, after)
