# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""A backbone's exported forward broken down by the runtimes' own per-layer
counters: OpenVINO's ``PERF_COUNT`` (by the type of each executed node,
after OpenVINO's fusions) and ONNX Runtime's profiler (by ONNX op type)."""
import json
import os
import tempfile
from collections import defaultdict
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from mmsepvit.deploy import export_onnx, require
from mmsepvit.deploy.runtimes import RUNTIME_NAMES, thread_count
from .measure import describe
from .models import build_backbone

Breakdown = Dict[str, float]


def openvino_breakdown(path: str, shape: Tuple[int, ...],
                       threads: Optional[int], runs: int) -> Breakdown:
    """Milliseconds per executed node type, summed over the graph, median
    of ``runs`` inferences (after a warm-up)."""
    ov = require('openvino')
    compiled = ov.Core().compile_model(
        path, 'CPU', {
            'INFERENCE_NUM_THREADS': thread_count(threads),
            'INFERENCE_PRECISION_HINT': 'f32',
            'PERFORMANCE_HINT': 'LATENCY',
            'PERF_COUNT': True,
        })
    request = compiled.create_infer_request()
    inputs = np.random.default_rng(0).standard_normal(shape, np.float32)
    request.infer([inputs])
    per_run = []
    for _ in range(runs):
        request.infer([inputs])
        totals: Breakdown = defaultdict(float)
        for info in request.profiling_info:
            if info.status == info.Status.EXECUTED:
                totals[info.node_type] += info.real_time.total_seconds() * 1e3
        per_run.append(totals)
    return _median(per_run)


def onnxruntime_breakdown(path: str, shape: Tuple[int, ...],
                          threads: Optional[int], runs: int) -> Breakdown:
    """Milliseconds per ONNX op type (ONNX Runtime's profiler, node
    events), median of ``runs`` inferences (after a warm-up)."""
    ort = require('onnxruntime')
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = thread_count(threads)
        options.inter_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, 'ort')
        options.log_severity_level = 3
        session = ort.InferenceSession(
            path, options, providers=['CPUExecutionProvider'])
        name = session.get_inputs()[0].name
        inputs = np.random.default_rng(0).standard_normal(shape, np.float32)
        for _ in range(runs + 1):
            session.run(None, {name: inputs})
        with open(session.end_profiling()) as f:
            events = json.load(f)
    runs_seen = defaultdict(list)
    for event in events:
        if event.get('cat') == 'Node' and event['name'].endswith(
                '_kernel_time'):
            runs_seen[event['name']].append(
                (event['args']['op_name'], event['dur'] / 1e3))
    per_run = [defaultdict(float) for _ in range(runs + 1)]
    for calls in runs_seen.values():
        for i, (op, ms) in enumerate(calls[:runs + 1]):
            per_run[i][op] += ms
    return _median(per_run[1:])  # the first run warms up


def _median(per_run) -> Breakdown:
    kinds = {kind for totals in per_run for kind in totals}
    return {
        kind: float(np.median([totals.get(kind, 0.) for totals in per_run]))
        for kind in kinds
    }


def format_breakdown(breakdown: Breakdown, top: int = 12) -> str:
    """A markdown table of the ``top`` kinds by time, the rest summed."""
    total = sum(breakdown.values())
    ranked = sorted(breakdown.items(), key=lambda kv: -kv[1])
    rest = sum(ms for _, ms in ranked[top:])
    lines = ['| node type | ms | share |', '|---|---|---|']
    rows = ranked[:top] + ([('(others)', rest)] if rest else [])
    lines += [f'| {kind} | {ms:.1f} | {ms / total:.1%} |' for kind, ms in rows]
    lines.append(f'| total | {total:.1f} | |')
    return '\n'.join(lines)


def runtime_breakdowns(model: nn.Module,
                       shape: Tuple[int, int],
                       threads: Optional[int],
                       runs: int = 3) -> Dict[str, Breakdown]:
    """``model`` exported to ONNX at ``shape`` (batch 1), broken down in
    each runtime."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'backbone.onnx')
        model.eval()  # not chained: mmdet's Swin returns None from train()
        with torch.no_grad():
            export_onnx(model, shape, path)
        size = (1, 3, *shape)
        return dict(
            openvino=openvino_breakdown(path, size, threads, runs),
            onnxruntime=onnxruntime_breakdown(path, size, threads, runs))


def run_runtime_profile(name: str,
                        threads: Optional[int],
                        shape: Tuple[int, int] = (800, 1280),
                        runs: int = 3) -> Dict[str, Breakdown]:
    """Print backbone ``name``'s exported forward at ``shape`` broken down
    in each runtime, and return the breakdowns."""
    torch.manual_seed(0)
    breakdowns = runtime_breakdowns(build_backbone(name), shape, threads, runs)
    print(f'{name} exported at {shape[0]}x{shape[1]}, batch 1, '
          f'{describe("cpu", threads)}: median of {runs} runs')
    for runtime, breakdown in breakdowns.items():
        print(f'\n{RUNTIME_NAMES[runtime]}\n{format_breakdown(breakdown)}')
    return breakdowns
