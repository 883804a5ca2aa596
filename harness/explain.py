"""`pool-parity explain`: the calls each framework makes and the reference semantics that apply."""

from __future__ import annotations

from harness import adapters, reference, semantics
from harness.spec import ADAPTIVE_OPS, GLOBAL_OPS, Case


def semantics_lines(case: Case) -> list[str]:
    p, lines = case.params, []
    if case.op in GLOBAL_OPS:
        kind = "max" if "max" in case.op else "mean"
        lines.append(f"{kind} over every spatial position of each (N, C) plane; keepdims={p.keepdims}")
    elif case.op in ADAPTIVE_OPS:
        assert p.output_size is not None
        for d, (L, out) in enumerate(zip(case.spatial_shape, p.output_size)):
            edges = semantics.adaptive_bins(L, out)
            bins = ", ".join(f"[{lo},{hi})" for lo, hi in zip(edges[:out], edges[out:]))
            lines.append(f"dim {d}: L={L} -> {out} bins [floor(i*L/out), ceil((i+1)*L/out)): {bins}")
    else:
        mode = "ceil" if p.ceil_mode else "floor"
        for d, L in enumerate(case.spatial_shape):
            k, s, (b, a), dil = p.kernel_size[d], p.stride[d], p.padding[d], p.dilation[d]
            out = semantics.pooled_length(L, k, s, (b, a), dil, p.ceil_mode)
            eff = semantics.effective_kernel(k, dil)
            lines.append(f"dim {d}: L={L}, kernel {k} (extent {eff} with dilation {dil}), stride {s}, "
                         f"pad [{b}, {a}]: out = {mode}(({L}+{b}+{a}-{eff})/{s})+1 -> {out}"
                         + ("  (ceil-mode windows starting in the after-padding are dropped)" if p.ceil_mode else ""))
        if p.padding_mode == "same":
            lines.append("padding 'same' (TensorFlow): out = ceil(L/stride), the odd pad element goes after")
        if case.op == "max_unpool":
            lines.append(f"max pool with indices, then each maximum scattered to its flat index in an output "
                         f"plane of {list(p.output_size or ())} (indices are flat in the input plane)")
        elif case.op == "max_pool":
            lines.append("max over real taps; padding acts as -inf; NaN in a window gives NaN; "
                         "index: first maximal tap in window scan order, flat per (N, C) plane")
        elif case.op == "avg_pool":
            if p.divisor_override is not None:
                lines.append(f"average: window sum / divisor_override {p.divisor_override}")
            elif p.count_include_pad:
                lines.append("average: window sum / taps inside the padded extent (ceil-mode overhang not counted)")
            else:
                lines.append("average: window sum / taps inside the input")
        else:
            lines.append(f"lp: (sum over real taps of x**{p.norm_type:g}) ** (1/{p.norm_type:g})")
    lines.append(f"reference output shape: {list(reference.output_shape(case))}")
    return lines


def explain(case: Case, frameworks: tuple[str, ...]) -> str:
    out = [f"case {case.id} ({case.op}) from {case.source.path}:{case.source.line}",
           f"input {list(case.input.shape)} {case.input.dtype}", "", "reference semantics:"]
    out += [f"  {line}" for line in semantics_lines(case)]
    for fw in frameworks:
        spec = adapters.get(fw)
        plan = adapters.load(spec).plan(case, spec.backend)
        out += ["", f"{fw}: {plan.mode}" + (f" ({plan.reason})" if plan.reason else "")]
        if plan.call:
            out.append(f"  call: {plan.call}")
        out += [f"  conversion: {c}" for c in plan.conversions()] if plan.supported else []
        if fw in case.expect:
            e = case.expect[fw]
            out.append(f"  expected: {e.verdict}: {e.reason}" + (f" <{e.link}>" if e.link else ""))
    return "\n".join(out)
