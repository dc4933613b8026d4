"""NPU-ready rewrites: passes on the exported graph, before quantization, each turning one stock PyTorch pattern
that ExecuTorch 1.5.1's Arm quantizer leaves unannotated (so on the CPU) or quantizes badly into an equal graph it
annotates and the NPU runs. They apply to every model the chain quantizes — recipes and `tinyzoo deploy` alike —
unless turned off (config `quantize.rewrite: false`, `tinyzoo deploy --no-rewrite`); what they changed is recorded
in the metrics (`quantization.rewrites`) and shown by the card and deploy's report. Each is exact in float
(tests/test_rewrites.py).

    rms_norm               nn.RMSNorm / F.rms_norm (`aten.rms_norm`, not annotated: CPU on U55 and U85)
                           → x · rsqrt(mean(x², last dims) + eps) · weight
    adaptive_avg_pool1d    nn.AdaptiveAvgPool1d(1) (CPU on U55 and U85) → mean over the last dim, kept
    linear_batch_norm      a linear followed by an inference batch norm (quantized apart, the linear's output
                           before a ReLU) → one linear with the batch norm folded in
"""
from __future__ import annotations

import torch
from torch import nn

aten = torch.ops.aten
DESCRIPTIONS = {
    "rms_norm": "RMSNorm → x·rsqrt(mean(x²)+eps)·weight",
    "adaptive_avg_pool1d": "AdaptiveAvgPool1d(1) → mean over the last dim",
    "linear_batch_norm": "Linear + BatchNorm1d → one Linear (batch norm folded)",
}


def apply(graph_module: torch.fx.GraphModule) -> dict[str, int]:
    """Every rewrite on `graph_module`, in place: {rewrite: how many times it applied} (only those that did)."""
    counts = {"rms_norm": decompose_rms_norm(graph_module),
              "adaptive_avg_pool1d": adaptive_avg_pool1d_as_mean(graph_module),
              "linear_batch_norm": fold_linear_batch_norm(graph_module)}
    counts = {name: n for name, n in counts.items() if n}
    if counts:
        graph_module.graph.eliminate_dead_code()
        graph_module.delete_all_unused_submodules()
        graph_module.recompile()
    return counts


def described(counts: dict[str, int]) -> str:
    """'RMSNorm → … ×2, …' for a report line ("" when nothing was rewritten)."""
    return ", ".join(f"{DESCRIPTIONS[name]} ×{n}" for name, n in counts.items())


def _val(node):
    return node.meta.get("val") if isinstance(node, torch.fx.Node) else None


def decompose_rms_norm(graph_module: torch.fx.GraphModule) -> int:
    """`rms_norm(x, shape, weight, eps)` → x · rsqrt(mean(x², the last len(shape) dims) + eps) · weight, eps
    defaulting as torch's does (the input dtype's machine epsilon)."""
    graph, count = graph_module.graph, 0
    for node in list(graph.nodes):
        if node.target is not aten.rms_norm.default:
            continue
        x, shape = node.args[0], node.args[1]
        weight = node.args[2] if len(node.args) > 2 else node.kwargs.get("weight")
        eps = node.args[3] if len(node.args) > 3 else node.kwargs.get("eps")
        value = _val(x)
        if eps is None:
            eps = torch.finfo(value.dtype if value is not None else torch.float32).eps
        dims = list(range(-len(shape), 0))
        with graph.inserting_before(node):
            # as Llama's reference code writes it (x.pow(2).mean(-1, keepdim=True) + eps): the graph a hand-written
            # RMSNorm exports to, op for op
            square = graph.call_function(aten.pow.Tensor_Scalar, (x, 2))
            mean = graph.call_function(aten.mean.dim, (square, dims, True))
            shifted = graph.call_function(aten.add.Tensor, (mean, float(eps)))
            scale = graph.call_function(aten.rsqrt.default, (shifted,))
            out = graph.call_function(aten.mul.Tensor, (x, scale))
            if weight is not None:
                out = graph.call_function(aten.mul.Tensor, (out, weight))
        for new in (square, mean, shifted, scale, out):
            new.meta.update({k: v for k, v in node.meta.items() if k in ("nn_module_stack", "stack_trace",
                                                                          "source_fn_stack")})
        node.replace_all_uses_with(out)
        graph.erase_node(node)
        count += 1
    return count


def adaptive_avg_pool1d_as_mean(graph_module: torch.fx.GraphModule) -> int:
    """`adaptive_avg_pool1d(x, [1])` → `mean(x, [-1], keepdim=True)` (other output sizes are left alone)."""
    graph, count = graph_module.graph, 0
    for node in list(graph.nodes):
        if node.target is not aten.adaptive_avg_pool1d.default or list(node.args[1]) != [1]:
            continue
        with graph.inserting_before(node):
            mean = graph.call_function(aten.mean.dim, (node.args[0], [-1], True))
        mean.meta.update({k: v for k, v in node.meta.items() if k != "val"})
        node.replace_all_uses_with(mean)
        graph.erase_node(node)
        count += 1
    return count


def fold_linear_batch_norm(graph_module: torch.fx.GraphModule) -> int:
    """Each `linear` whose only user is an inference batch norm, folded into one `linear` (w * g / sqrt(var + eps),
    (b - mean) * g / sqrt(var + eps) + beta): equal in float. The Arm quantizer folds a convolution's batch norm but
    not a linear's, which it would quantize on its own, the linear's output then on a range a following ReLU
    halves (and Vela would run the batch norm as extra operators)."""
    graph, folded = graph_module.graph, 0
    for node in list(graph.nodes):
        users = list(node.users)
        if node.target is not torch.ops.aten.linear.default or len(users) != 1:
            continue
        bn = users[0]
        if bn.target is not torch.ops.aten.batch_norm.default or bn.args[0] is not node or bn.args[5]:
            continue
        attrs = [node.args[1], *(node.args[2:3] or [None]), *bn.args[1:5]]
        if not all(a is None or a.op == "get_attr" for a in attrs):
            continue
        weight, bias, gamma, beta, mean, var = (None if a is None else graph_module.get_parameter(a.target)
                                                if a.target in dict(graph_module.named_parameters())
                                                else graph_module.get_buffer(a.target) for a in attrs)
        with torch.no_grad():
            scale = (gamma if gamma is not None else torch.ones_like(var)) / torch.sqrt(var + bn.args[7])
            new_weight = weight * scale[:, None]
            new_bias = ((bias if bias is not None else torch.zeros_like(mean)) - mean) * scale \
                + (beta if beta is not None else torch.zeros_like(mean))
        names = (f"_folded_linear_{folded}_weight", f"_folded_linear_{folded}_bias")
        for name, value in zip(names, (new_weight, new_bias)):
            graph_module.register_parameter(name, nn.Parameter(value.detach().clone(),
                                                               requires_grad=weight.requires_grad))
        with graph.inserting_before(node):
            w_node, b_node = graph.get_attr(names[0]), graph.get_attr(names[1])
        w_node.meta = dict(attrs[0].meta)                           # the same shapes: the quantizer reads them
        b_node.meta = dict(next(a for a in (attrs[1], *attrs[2:]) if a is not None).meta)
        node.args = (node.args[0], w_node, b_node)
        bn.replace_all_uses_with(node)
        graph.erase_node(bn)
        folded += 1
    return folded
