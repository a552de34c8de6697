# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Shuffle Transformer: window attention with spatial shuffle.

Huang et al., "Shuffle Transformer: Rethinking Spatial Shuffle for Vision
Transformer", https://arxiv.org/abs/2106.03650
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import constant_init, trunc_normal_init
from torch.nn.modules.batchnorm import _BatchNorm

from mmsepvit.models.layers import (DropPathResidual, ExecutionPath,
                                    build_norm, execution_path, linear,
                                    project_heads, window_merge,
                                    window_partition)
from mmsepvit.registry import register_model
from .base_backbone import MultiStageBackbone


def _channels_last_norm(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A BatchNorm of a channels-last (B, H, W, C) map, channels-last out.

    The permuted view is an NCHW tensor in channels-last memory, which the
    norm keeps, so the result permutes back without a copy.
    """
    return norm(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def relative_position_index(window_size: int) -> torch.Tensor:
    """Swin's (ws*ws, ws*ws) index into a ((2ws-1)^2, heads) bias table of
    the row and column offsets between two positions of a window."""
    coords = torch.stack(
        torch.meshgrid(
            torch.arange(window_size),
            torch.arange(window_size),
            indexing='ij')).flatten(1)
    offsets = (coords[:, :, None] - coords[:, None, :]) + window_size - 1
    return offsets[0] * (2 * window_size - 1) + offsets[1]


class ShuffleWindowAttention(BaseModule):
    """Multi-head self-attention inside regular or shuffled windows, with a
    relative position bias.

    Regular window (i, j) holds rows ``7i .. 7i+6`` and columns likewise;
    shuffled window (i, j) holds rows ``i, i+n, .., i+6n`` with ``n`` windows
    per side (a dilated split), columns likewise; both index the same bias
    table by the two tokens' positions inside their window. Maps that are
    not whole windows are padded at the bottom and right, and the padded
    keys are masked out (see :class:`ShuffleTransformer`).

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        window_size (int): Window side in tokens.
        shuffled (bool): Shuffled windows instead of regular ones.
        qkv_bias (bool): Bias in the query/key/value projection.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int,
                 shuffled: bool,
                 qkv_bias: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.shuffled = shuffled
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        # Derived from the window size: not part of checkpoints.
        self.register_buffer(
            'relative_position_index',
            relative_position_index(window_size),
            persistent=False)
        self.to_qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def position_bias(self) -> torch.Tensor:
        """(heads, ws*ws, ws*ws) bias added to the attention logits."""
        tokens = self.window_size**2
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)]
        return bias.view(tokens, tokens, -1).permute(2, 0, 1)

    def padding_mask(self, height: int, width: int, device: torch.device,
                     always: bool) -> Optional[torch.Tensor]:
        """(nW, 1, 1, ws*ws), True at padded tokens; None when the map is
        whole windows, unless ``always`` (for tracers and exporters, whose
        graph must not depend on the input size)."""
        ws = self.window_size
        if not always and height % ws == 0 and width % ws == 0:
            return None
        real = torch.ones(1, height, width, 1, device=device)
        windows = window_partition(
            real, ws, real.new_zeros(1), shuffled=self.shuffled)
        return (windows[0, :, :, 0] == 0)[:, None, None, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised channels-last (B, H, W, C) in, (B, H, W, C) out."""
        B, H, W, C = x.shape
        windows = window_partition(
            x.contiguous(),
            self.window_size,
            x.new_zeros(C),
            shuffled=self.shuffled)
        num_windows, tokens = windows.shape[1:3]
        q, k, v = project_heads(
            windows.view(B * num_windows, tokens, C), self.to_qkv,
            self.num_heads)
        bias = self.position_bias()
        mask = self.padding_mask(H, W, x.device,
                                 execution_path(x) is ExecutionPath.TRACE)
        if mask is not None:
            # Every window holds real tokens (the first row and column of
            # each are real), so no query is left without a key. Exporters
            # take 4-D attention only: one mask per image and window.
            bias = bias.masked_fill(mask,
                                    float('-inf')).expand(B, -1, -1, -1,
                                                          -1).flatten(0, 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        # (B*nW, heads, T, d) -> (B, nW, T, C)
        out = out.transpose(1, 2).reshape(B, num_windows, tokens, C)
        out = window_merge(out, H, W, self.window_size, self.shuffled)
        return linear(out, self.proj)


class ShuffleBlock(BaseModule):
    """A Shuffle Transformer block on a channels-last map:

    ``x += DP(Attn(BN1 x)); x += Local(BN2 x); x += DP(MLP(BN3 x))``, where
    Local is a depthwise 7x7 convolution (no drop path, as released) and the
    MLP is Linear, ReLU6, Linear.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        window_size (int): Window side in tokens.
        shuffled (bool): Shuffled windows instead of regular ones.
        mlp_ratio (float): MLP hidden size over ``embed_dims``.
        qkv_bias (bool): Bias in the query/key/value projection.
        drop_path_rate (float): Stochastic depth of the attention and MLP.
        norm_cfg (dict): The three norms' config.
        with_cp (bool): Recompute the block in backward to save memory.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int,
                 shuffled: bool,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = False,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = build_norm(norm_cfg, embed_dims)
        self.attn = ShuffleWindowAttention(embed_dims, num_heads, window_size,
                                           shuffled, qkv_bias)
        self.drop_path = DropPathResidual(drop_path_rate)
        self.norm2 = build_norm(norm_cfg, embed_dims)
        self.local = nn.Conv2d(
            embed_dims,
            embed_dims,
            window_size,
            padding=window_size // 2,
            groups=embed_dims)
        self.norm3 = build_norm(norm_cfg, embed_dims)
        hidden_dims = int(embed_dims * mlp_ratio)
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.fc2 = nn.Linear(hidden_dims, embed_dims)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop_path(x, self.attn(_channels_last_norm(self.norm1, x)))
        local = self.local(self.norm2(x.permute(0, 3, 1, 2)))
        x = x + local.permute(0, 2, 3, 1)
        hidden = F.relu6(linear(_channels_last_norm(self.norm3, x), self.fc1))
        return self.drop_path(x, linear(hidden, self.fc2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last (B, H, W, C) in and out."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class PatchMerging(BaseModule):
    """BN, then a 2x2 stride-2 convolution without bias.

    An odd map is padded with a zero row or column (after the norm, as a
    convolution's own padding would be) so that the output is
    ``ceil(size / 2)``; the release only takes even sizes.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: dict) -> None:
        super().__init__()
        self.norm = build_norm(norm_cfg, in_channels)
        self.reduction = nn.Conv2d(
            in_channels, out_channels, 2, stride=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last (B, H, W, C) in and out."""
        H, W = x.shape[1:3]
        x = self.norm(x.permute(0, 3, 1, 2))
        # Tracers and exporters: one graph for every size.
        if H % 2 or W % 2 or execution_path(x) is ExecutionPath.TRACE:
            x = F.pad(x, (0, W % 2, 0, H % 2))
        return self.reduction(x).permute(0, 2, 3, 1)


class ShuffleStage(BaseModule):
    """Optional patch merging, then pairs of regular- and shuffled-window
    blocks."""

    def __init__(self, downsample: Optional[PatchMerging],
                 blocks: List[dict]) -> None:
        super().__init__()
        self.downsample = downsample
        self.blocks = ModuleList([ShuffleBlock(**cfg) for cfg in blocks])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last (B, H, W, C) in and out."""
        if self.downsample is not None:
            x = self.downsample(x)
        x = x.contiguous()
        for block in self.blocks:
            x = block(x)
        return x


class Stem(BaseModule):
    """Conv3x3 s2, BN, ReLU6, Conv3x3 s2, BN, ReLU6, Conv1x1: stride 4."""

    def __init__(self, in_channels: int, hidden_dims: int, out_channels: int,
                 norm_cfg: dict) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, hidden_dims, 3, 2, 1)
        self.norm1 = build_norm(norm_cfg, hidden_dims)
        self.conv2 = nn.Conv2d(hidden_dims, out_channels, 3, 2, 1)
        self.norm2 = build_norm(norm_cfg, out_channels)
        self.proj = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """NCHW in, channels-last (B, H/4, W/4, C) out."""
        x = F.relu6(self.norm1(self.conv1(x)))
        x = F.relu6(self.norm2(self.conv2(x)))
        return self.proj(x).permute(0, 2, 3, 1).contiguous()


@register_model()
class ShuffleTransformer(MultiStageBackbone):
    """Shuffle Transformer backbone: `Shuffle Transformer: Rethinking Spatial
    Shuffle for Vision Transformer <https://arxiv.org/abs/2106.03650>`_.

    A convolutional stem (stride 4), then four stages of block pairs: window
    attention in regular 7x7 windows, then in shuffled (dilated) windows, each
    block with a depthwise 7x7 convolution as well. Stages 2-4 start with a
    2x2 stride-2 patch merging where their width changes. BatchNorm is the
    only norm; no stage-output norm (the release has none). Outputs are the
    stage outputs, NCHW, at strides 4, 8, 16 and 32.

    The released code takes sizes that are multiples of 224 only, and this
    backbone reproduces it there exactly. Other sizes (at least 32 pixels):

    - the stem's convolutions round up (``ceil(size / 4)``) and patch
      merging pads an odd map with a zero row or column after its norm, so
      stage ``s`` is ``ceil(size / stride_s)``;
    - each attention pads its normalised map at the bottom and right to a
      multiple of the window (7) and masks the padded keys out of the
      softmax; the outputs at padded places are cropped away. Every window
      holds at least one real token, so every real query attends to real
      keys only;
    - shuffled windows then use ``n = ceil(H / 7)`` windows per side: window
      ``i`` holds the real rows among ``i, i+n, .., i+6n``, each at its
      position ``k`` of the window for the position bias. Padded rows are
      the last positions of the last windows.

    What this promises, and is tested: every real token's output depends on
    real tokens only. The values at padded places never matter; a
    regular-window block equals attention over the real tokens of each 7x7
    window, so it gives the same real outputs however many whole windows of
    padding are added; a shuffled-window block equals attention over the
    real tokens of each dilated group with ``n = ceil(H / 7)``. What it does
    not promise: the dilated groups follow from the map size, so a map of
    another size (an image with a border added, or a crop) groups its rows
    differently beyond the first window's reach and gives other outputs, as
    the release's groups change between 224 and 448. Padding the input to a
    multiple of 224 instead would put real zero pixels (not masked) through
    the network; this is not that.

    Args:
        arch (str | dict): 'tiny' ('t'), 'small' ('s'), 'base' ('b'), or a
            dict with exactly the keys ``embed_dims``, ``num_heads`` and
            ``depths`` (blocks per stage, even: regular/shuffled pairs).
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int): Width of the stem's first convolution (the
            release's ``token_dim``). Defaults to 32.
        window_size (int): Window side. Defaults to 7.
        mlp_ratio (float): MLP hidden size over channels. Defaults to 4.
        qkv_bias (bool): Bias in the query/key/value projection. The
            release has none whatever its ``qkv_bias`` argument says.
            Defaults to False.
        drop_path_rate (float): Stochastic depth of the last stage; as
            released, one rate per stage, ``linspace(0, rate, num_stages)``.
            Defaults to 0.1.
        norm_cfg (dict): Config of every norm. Defaults to BatchNorm
            (``dict(type='BN')``); multi-GPU configs may use SyncBN.
        out_indices (Sequence[int] | int): Stages whose outputs are returned;
            negative indices count from the end. Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing, 0 the stem, k >= 1 the stem
            and stages 1..k with their patch merging (eval mode, no
            gradients). Defaults to -1.
        norm_eval (bool): Keep every BatchNorm in eval mode (its running
            statistics) during training. Defaults to False.
        with_cp (bool): Non-reentrant activation checkpointing of each block.
            Defaults to False.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict | list[dict], optional): Initialisation config. With
            ``type='Pretrained'`` (optionally ``prefix='backbone.'``) every
            weight must be found in the checkpoint with the right shape, and
            nothing unexpected may be left over; convert the release's
            checkpoints with ``tools/model_converters/shuffle2mmsepvit.py``.

    Example:
        >>> import torch
        >>> from mmsepvit.models.backbones import ShuffleTransformer
        >>> model = ShuffleTransformer(arch='tiny').eval()
        >>> outs = model(torch.rand(1, 3, 224, 224))
        >>> [tuple(out.shape) for out in outs]
        [(1, 96, 56, 56), (1, 192, 28, 28), (1, 384, 14, 14), (1, 768, 7, 7)]
    """
    _tiny = dict(
        embed_dims=[96, 192, 384, 768],
        num_heads=[3, 6, 12, 24],
        depths=[2, 2, 6, 2])
    _small = dict(_tiny, depths=[2, 2, 18, 2])
    _base = dict(
        _small, embed_dims=[128, 256, 512, 1024], num_heads=[4, 8, 16, 32])
    arch_zoo: Dict[str, dict] = {
        **dict.fromkeys(['t', 'tiny'], _tiny),
        **dict.fromkeys(['s', 'small'], _small),
        **dict.fromkeys(['b', 'base'], _base),
    }
    arch_keys = ('embed_dims', 'num_heads', 'depths')

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 stem_channels: int = 32,
                 window_size: int = 7,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = False,
                 drop_path_rate: float = 0.1,
                 norm_cfg: dict = dict(type='BN'),
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg, pretrained=pretrained)

        self.arch_settings = self.parse_arch(arch)
        embed_dims = self.arch_settings['embed_dims']
        num_stages = len(embed_dims)
        # Stage 1 is at stride 4; a stage halves the map where it merges,
        # which the release does only where the width changes.
        merges = [False] + [
            embed_dims[i] != embed_dims[i - 1] for i in range(1, num_stages)
        ]
        strides = [4]
        for merge in merges[1:]:
            strides.append(strides[-1] * (2 if merge else 1))
        self.strides = tuple(strides)
        self.min_input_size = 32
        self.in_channels = in_channels
        self.window_size = window_size
        self.out_indices = self.check_out_indices(out_indices, num_stages)
        self.frozen_stages = self.check_frozen_stages(frozen_stages,
                                                      num_stages)
        self.norm_eval = norm_eval
        self.check_drop_path_rate(drop_path_rate)

        self.stem = Stem(in_channels, stem_channels, embed_dims[0], norm_cfg)
        # As released: one rate per stage, not per block.
        drop_path_rates = torch.linspace(
            0, drop_path_rate, num_stages, device='cpu').tolist()
        self.stages = ModuleList()
        for i in range(num_stages):
            downsample = PatchMerging(embed_dims[i - 1], embed_dims[i],
                                      norm_cfg) if merges[i] else None
            blocks = [
                dict(
                    embed_dims=embed_dims[i],
                    num_heads=self.arch_settings['num_heads'][i],
                    window_size=window_size,
                    shuffled=j % 2 == 1,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    drop_path_rate=drop_path_rates[i],
                    norm_cfg=norm_cfg,
                    with_cp=with_cp)
                for j in range(self.arch_settings['depths'][i])
            ]
            self.stages.append(ShuffleStage(downsample, blocks))
        # Frozen from the start: a DDP wrapper made before train() must not
        # wait for gradients of frozen weights.
        self._freeze_stages()

    def _check_arch(self, arch: dict) -> None:
        super()._check_arch(arch)
        for i, depth in enumerate(arch['depths']):
            if not isinstance(depth, int) or depth < 2 or depth % 2:
                raise ValueError(
                    f'ShuffleTransformer: stage {i} depth {depth!r} must be '
                    'a positive even number (pairs of regular- and '
                    'shuffled-window blocks)')

    def transfer_state_dict(self, state_dict: Dict[str, torch.Tensor],
                            source: str) -> Dict[str, torch.Tensor]:
        """Check that ``state_dict`` fits, naming every mismatched key;
        a checkpoint in the release's layout is pointed to the converter."""
        if any(k.startswith('to_token.') for k in state_dict):
            raise ValueError(
                f"{source} is in the layout of the authors' released Shuffle "
                'Transformer code: convert it with '
                'tools/model_converters/shuffle2mmsepvit.py first')
        return super().transfer_state_dict(state_dict, source)

    def _init_released(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_init(m, std=.02, bias=0.)
            elif isinstance(m, _BatchNorm):
                constant_init(m, val=1., bias=0.)
            elif isinstance(m, ShuffleWindowAttention):
                nn.init.trunc_normal_(m.relative_position_bias_table, std=.02)

    def frozen_modules(self) -> List[nn.Module]:
        frozen = []
        if self.frozen_stages >= 0:
            frozen.append(self.stem)
        frozen.extend(self.stages[:max(self.frozen_stages, 0)])
        return frozen

    def stage_outputs(self,
                      x: torch.Tensor,
                      last: Optional[int] = None) -> List[torch.Tensor]:
        """Check the input and return the NCHW output of every stage up to
        ``last`` (all by default); they are non-contiguous views."""
        self._check_input(x)
        x = self.stem(x)
        maps = []
        for i, stage in enumerate(self.stages):
            if last is not None and i > last:
                break
            x = stage(x)
            maps.append(x.permute(0, 3, 1, 2))
        return maps

    def extra_repr(self) -> str:
        return f'strides={self.strides}, window_size={self.window_size}'
