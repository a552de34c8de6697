# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""One 800x1280 forward and one 512x512 training step of a backbone broken
down by kind of operation (torch.profiler, self CPU time), with the minor
page faults of each."""
import resource
from typing import Dict, Optional

import torch

from .measure import Step, describe, forward_step, training_step
from .models import build_backbone

# Operator name -> kind (self time; the first match wins).
PROFILE_KINDS = [
    ('optimizer', ('Optimizer.', )),
    ('linear layers (GEMM)', ('addmm', 'aten::mm', '_linear_pointwise',
                              'aten::linear')),
    ('attention', ('scaled_dot_product', 'bmm', 'softmax', 'aten::matmul')),
    ('convolutions', ('convolution', )),
    ('LayerNorm', ('layer_norm', )),
    ('copies and layout', ('copy_', 'cat', 'stack', 'fill_', 'zero_', 'clone',
                           'pad')),
    ('elementwise (GELU, residual, ...)', ('gelu', 'add', 'mul', 'div', 'sum',
                                           'where')),
]


def profile_breakdown(step: Step) -> Dict[str, float]:
    """Self CPU time (ms) of one call of ``step`` by kind of operation;
    optimizer ops are counted under their ``Optimizer.step``."""
    from torch.profiler import ProfilerActivity, profile
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    totals: Dict[str, float] = {kind: 0. for kind, _ in PROFILE_KINDS}
    totals['other'] = 0.
    for event in prof.events():
        name, parent = event.name, event.cpu_parent
        while parent is not None:
            if parent.name.startswith('Optimizer.'):
                name = parent.name
            parent = parent.cpu_parent
        kind = next((k for k, keys in PROFILE_KINDS if any(key in name
                                                           for key in keys)),
                    'other')
        totals[kind] += event.self_cpu_time_total / 1e3
    return totals


def page_faults(step: Step) -> int:
    """Minor page faults of one call of ``step`` after a warm-up call: pages
    the kernel maps (and zeroes) because the allocator gave a large buffer
    back to it and asked again."""
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def run_profile(name: str, threads: Optional[int], amp: bool) -> None:
    """Print the breakdown of backbone ``name``'s forward and training step
    on the CPU."""
    torch.manual_seed(0)
    model = build_backbone(name)
    steps = {
        'forward 800x1280, batch 1':
        forward_step(model, torch.randn(1, 3, 800, 1280), amp),
        'training step 512x512, batch 2':
        training_step(model, torch.randn(2, 3, 512, 512), amp),
    }
    print(f'{name}, {describe("cpu", threads)}: self CPU time '
          '(torch.profiler)')
    for title, step in steps.items():
        totals = profile_breakdown(step)
        total = sum(totals.values())
        print(
            f'\n{title}: {total:.0f} ms\n| kind | ms | share |\n|---|---|---|')
        for kind, ms in sorted(totals.items(), key=lambda kv: -kv[1]):
            print(f'| {kind} | {ms:.0f} | {ms / total:.0%} |')
        print(f'minor page faults: {page_faults(step)} per step')
