# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Dual-ViT: Dual Vision Transformer.

Yao et al., "Dual Vision Transformer", TPAMI 2023,
https://arxiv.org/abs/2207.04976
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import (constant_init, normal_init,
                                        trunc_normal_init)

from mmsepvit.models.layers import DropPathResidual, build_norm, project_heads
from mmsepvit.registry import register_model
from mmsepvit.utils import check_state_dict, load_pretrained_state_dict
from .base_backbone import MultiStageBackbone

# Block norms, stage-output norms (norm{i}, norm_proxy{i}) and the class
# block use eps 1e-6 in the release; every other LayerNorm (stem and
# downsampling, q_embed, proxy_ln, q_proxy_ln, p_ln, qkv_proxy, the semantic
# embeddings) keeps PyTorch's 1e-5.
BLOCK_NORM_EPS = 1e-6
# The stem's output is pooled 7x7 into the semantic grid; the learnt queries
# are an 8x8 grid (64 tokens at 224x224).
POOL_SIZE = 7
QUERY_GRID = 8


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, N, d) -> (B, N, heads * d)."""
    return x.transpose(1, 2).flatten(2)


class ConvFFN(BaseModule):
    """PVTv2's FFN: Linear, depthwise 3x3 conv on the hidden map, GELU,
    Linear; with ``semantic_ffn`` also the Merge block's FFN of the semantic
    tokens (``fc_proxy``: Linear C->2C, GELU, Linear), which take the rows
    after the ``H*W`` pixels.

    Args:
        embed_dims (int): Channels.
        hidden_dims (int): Hidden channels of the pixel FFN.
        semantic_ffn (bool): Build ``fc_proxy`` for the semantic rows.
    """

    def __init__(self,
                 embed_dims: int,
                 hidden_dims: int,
                 semantic_ffn: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.dwconv = nn.Conv2d(
            hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.fc_proxy = nn.Sequential(
            nn.Linear(embed_dims, 2 * embed_dims), nn.GELU(),
            nn.Linear(2 * embed_dims, embed_dims)) if semantic_ffn else None

    def pixel_ffn(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        x = self.fc1(x)
        batch, _, channels = x.shape
        x = self.dwconv(x.transpose(1, 2).view(batch, channels, *hw))
        return self.fc2(F.gelu(x.flatten(2).transpose(1, 2)))

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """(B, H*W [+ M], C) in and out."""
        if self.fc_proxy is None:
            return self.pixel_ffn(x, hw)
        num_pixels = hw[0] * hw[1]
        return torch.cat([
            self.pixel_ffn(x[:, :num_pixels], hw),
            self.fc_proxy(x[:, num_pixels:])
        ], 1)


class DualAttention(BaseModule):
    """The Dual block's attention: the semantic tokens update themselves
    (self-attention, cross-attention to the pixels, an MLP; three residuals
    with layer scales ``gamma1-3`` and drop path), then the pixels attend to
    the updated semantic tokens.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Heads of every attention here.
        drop_path_rate (float): Stochastic depth of the semantic residuals.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 drop_path_rate: float = 0.) -> None:
        super().__init__()
        self.num_heads = num_heads
        # Pixels attend to the semantic tokens.
        self.q = nn.Linear(embed_dims, embed_dims)
        self.kv = nn.Linear(embed_dims, 2 * embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proxy_ln = nn.LayerNorm(embed_dims)
        # The semantic tokens: self-attention (no output projection) ...
        self.qkv_proxy = nn.Sequential(
            nn.LayerNorm(embed_dims), nn.Linear(embed_dims, 3 * embed_dims))
        # ... cross-attention to the pixels (no output projection) ...
        self.q_proxy_ln = nn.LayerNorm(embed_dims)
        self.q_proxy = nn.Linear(embed_dims, embed_dims)
        self.kv_proxy = nn.Linear(embed_dims, 2 * embed_dims)
        # ... and an MLP.
        self.p_ln = nn.LayerNorm(embed_dims)
        self.mlp_proxy = nn.Sequential(
            nn.Linear(embed_dims, 4 * embed_dims), nn.ReLU(),
            nn.Linear(4 * embed_dims, embed_dims))
        self.gamma1 = nn.Parameter(torch.full((embed_dims, ), 1e-6))
        self.gamma2 = nn.Parameter(torch.full((embed_dims, ), 1e-6))
        self.gamma3 = nn.Parameter(torch.full((embed_dims, ), 1e-6))
        self.drop_path = DropPathResidual(drop_path_rate)

    def forward(self, x: torch.Tensor,
                semantics: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normed pixels (B, N, C) and semantic tokens (B, M, C) in; the
        projected pixel attention (B, N, C) and the updated semantic tokens
        out."""
        heads = self.num_heads
        q, k, v = project_heads(self.qkv_proxy[0](semantics),
                                self.qkv_proxy[1], heads)
        semantics = self.drop_path(
            semantics,
            self.gamma1 *
            _merge_heads(F.scaled_dot_product_attention(q, k, v)))

        q, = project_heads(
            self.q_proxy_ln(semantics), self.q_proxy, heads, parts=1)
        k, v = project_heads(x, self.kv_proxy, heads, parts=2)
        semantics = self.drop_path(
            semantics,
            self.gamma2 *
            _merge_heads(F.scaled_dot_product_attention(q, k, v)))
        semantics = self.drop_path(
            semantics, self.gamma3 * self.mlp_proxy(self.p_ln(semantics)))

        q, = project_heads(x, self.q, heads, parts=1)
        k, v = project_heads(self.proxy_ln(semantics), self.kv, heads, parts=2)
        x = _merge_heads(F.scaled_dot_product_attention(q, k, v))
        return self.proj(x), semantics


class DualBlock(BaseModule):
    """Stages 1-2: pixels and semantic tokens in two streams.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): Hidden size of the pixel FFN over ``embed_dims``.
        drop_path_rate (float): Stochastic depth of all five residuals.
        with_cp (bool): Recompute the block in backward.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float,
                 drop_path_rate: float = 0.,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(embed_dims, eps=BLOCK_NORM_EPS)
        self.attn = DualAttention(embed_dims, num_heads, drop_path_rate)
        self.norm2 = nn.LayerNorm(embed_dims, eps=BLOCK_NORM_EPS)
        self.mlp = ConvFFN(embed_dims, int(embed_dims * mlp_ratio))
        self.gamma1 = nn.Parameter(torch.full((embed_dims, ), 1e-6))
        self.gamma2 = nn.Parameter(torch.full((embed_dims, ), 1e-6))
        self.drop_path = DropPathResidual(drop_path_rate)

    def _forward(self, x: torch.Tensor, semantics: torch.Tensor,
                 hw: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        attn, semantics = self.attn(self.norm1(x), semantics)
        x = self.drop_path(x, self.gamma1 * attn)
        x = self.drop_path(x, self.gamma2 * self.mlp(self.norm2(x), hw))
        return x, semantics

    def forward(self, x: torch.Tensor, semantics: torch.Tensor,
                hw: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pixels (B, H*W, C) and semantic tokens (B, M, C) in and out."""
        if self.with_cp and (x.requires_grad or semantics.requires_grad):
            return cp.checkpoint(
                self._forward, x, semantics, hw, use_reentrant=False)
        return self._forward(x, semantics, hw)


class MergeBlock(BaseModule):
    """Stages 3-4: one stream of pixels and semantic tokens, global
    multi-head self-attention, then a per-stream FFN.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): Hidden size of the pixel FFN over ``embed_dims``.
        drop_path_rate (float): Stochastic depth of both residuals.
        is_last (bool): Drop the semantic tokens after the attention (the
            dense backbone's last block: no semantic FFN, ``fc_proxy``).
        with_cp (bool): Recompute the block in backward.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float,
                 drop_path_rate: float = 0.,
                 is_last: bool = False,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.is_last = is_last
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(embed_dims, eps=BLOCK_NORM_EPS)
        self.attn = nn.Module()
        self.attn.q = nn.Linear(embed_dims, embed_dims)
        self.attn.kv = nn.Linear(embed_dims, 2 * embed_dims)
        self.attn.proj = nn.Linear(embed_dims, embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims, eps=BLOCK_NORM_EPS)
        self.mlp = ConvFFN(
            embed_dims, int(embed_dims * mlp_ratio), semantic_ffn=not is_last)
        self.gamma1 = nn.Parameter(torch.full((embed_dims, ), 1e-6))
        self.gamma2 = nn.Parameter(torch.full((embed_dims, ), 1e-6))
        self.drop_path = DropPathResidual(drop_path_rate)

    def _forward(self, z: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        zn = self.norm1(z)
        q, = project_heads(zn, self.attn.q, self.num_heads, parts=1)
        k, v = project_heads(zn, self.attn.kv, self.num_heads, parts=2)
        attn = _merge_heads(F.scaled_dot_product_attention(q, k, v))
        z = self.drop_path(z, self.gamma1 * self.attn.proj(attn))
        if self.is_last:
            z = z[:, :hw[0] * hw[1]]
        return self.drop_path(z, self.gamma2 * self.mlp(self.norm2(z), hw))

    def forward(self, z: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """(B, H*W + M, C), pixels first, in; the same out, or the pixels
        alone with ``is_last``."""
        if self.with_cp and z.requires_grad:
            return cp.checkpoint(self._forward, z, hw, use_reentrant=False)
        return self._forward(z, hw)


class Stem(BaseModule):
    """Stride 4: Conv7x7 s2, BN, ReLU, 2 x (Conv3x3, BN, ReLU), Conv3x3 s2
    with bias, LayerNorm. ``convs`` keeps the release's Sequential indices."""

    def __init__(self, in_channels: int, stem_width: int, embed_dims: int,
                 norm_cfg: dict) -> None:
        super().__init__()
        layers = []
        for i in range(3):
            layers += [
                nn.Conv2d(
                    in_channels if i == 0 else stem_width,
                    stem_width,
                    kernel_size=7 if i == 0 else 3,
                    stride=2 if i == 0 else 1,
                    padding=3 if i == 0 else 1,
                    bias=False),
                build_norm(norm_cfg, stem_width),
                nn.ReLU(inplace=True)
            ]
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Conv2d(stem_width, embed_dims, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """NCHW in, channels-last (B, H', W', C) out."""
        return self.norm(self.proj(self.convs(x)).permute(0, 2, 3, 1))


class PatchEmbed(BaseModule):
    """Stride 2: Conv3x3 with bias, LayerNorm."""

    def __init__(self, in_channels: int, embed_dims: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """NCHW in, channels-last (B, H', W', C) out."""
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class SemanticInit(BaseModule):
    """The first semantic tokens, made once from the stem's output.

    The map is average-pooled 7x7 (stride 7, floor) into an h0 x w0 grid;
    the learnt 8x8 queries ``q``, resized bicubically to h0 x w0, attend
    (one head) to it; a gate (``se``) mixes the result with the pooled map
    per channel; then ``proxy_ln``.

    Args:
        embed_dims (int): Channels of stage 1.
        resize_always (bool): Resize the queries to the grid at every size
            (the dense release; 8x8 -> 8x8 is an exact identity). False
            resizes them only when the grid has other than 64 tokens (the
            release's classifier).
    """

    def __init__(self, embed_dims: int, resize_always: bool = True) -> None:
        super().__init__()
        self.resize_always = resize_always
        self.q = nn.Parameter(torch.zeros(QUERY_GRID**2, embed_dims))
        self.q_embed = nn.Sequential(
            nn.LayerNorm(embed_dims), nn.Linear(embed_dims, embed_dims))
        self.kv = nn.Linear(embed_dims, 2 * embed_dims)
        self.se = nn.Sequential(
            nn.Linear(embed_dims, embed_dims), nn.ReLU(),
            nn.Linear(embed_dims, 2 * embed_dims))
        self.proxy_ln = nn.LayerNorm(embed_dims)

    def queries(self, grid: Tuple[int, int]) -> torch.Tensor:
        """The (1, h0 * w0, C) queries of an h0 x w0 grid, row-major."""
        q = self.q
        if not self.resize_always and grid[0] * grid[1] == q.shape[0]:
            return q.unsqueeze(0)
        q = q.view(QUERY_GRID, QUERY_GRID, -1).permute(2, 0, 1).unsqueeze(0)
        q = F.interpolate(q, size=grid, mode='bicubic', align_corners=False)
        return q.flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The stem's channels-last output (B, H, W, C) in; the semantic
        tokens (B, h0 * w0, C) out."""
        pooled = F.avg_pool2d(x.permute(0, 3, 1, 2), POOL_SIZE, POOL_SIZE)
        grid = tuple(pooled.shape[2:])
        pooled = pooled.flatten(2).transpose(1, 2)
        k, v = self.kv(pooled).unflatten(-1, (2, -1)).unbind(-2)
        q = self.q_embed(self.queries(grid)).expand(k.shape[0], -1, -1)
        # One head of all C channels: SDPA's default scale is C^-0.5. As a
        # head axis of one, since the ONNX exporter takes 4-D attention only.
        semantics = F.scaled_dot_product_attention(
            q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1)
        gate = self.se((semantics + pooled).mean(1))
        gate = gate.view(-1, 2, 1, gate.shape[-1] // 2).softmax(1)
        return self.proxy_ln(gate[:, 0] * semantics + gate[:, 1] * pooled)


class SemanticEmbed(BaseModule):
    """Stages 2-4: the semantic tokens to the stage's channels, Linear then
    LayerNorm."""

    def __init__(self, in_channels: int, embed_dims: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, embed_dims)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, semantics: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(semantics))


class DualViTStage(BaseModule):
    """A stage's patch embedding (the stem in stage 1), semantic-token
    embedding and blocks."""

    def __init__(self, patch_embed: nn.Module, semantic_embed: nn.Module,
                 blocks: List[nn.Module]) -> None:
        super().__init__()
        self.patch_embed = patch_embed
        self.semantic_embed = semantic_embed
        self.blocks = ModuleList(blocks)


@register_model()
class DualViT(MultiStageBackbone):
    """Dual-ViT backbone: `Dual Vision Transformer
    <https://arxiv.org/abs/2207.04976>`_.

    A convolutional stem (stride 4) and four stages at strides 4, 8, 16 and
    32. Stages 1-2 hold "Dual" blocks: the pixels and a small set of semantic
    tokens (made once from the stem's output, 64 at 224x224) in two streams,
    the pixels attending only to the semantic tokens. Stages 3-4 hold "Merge"
    blocks: global self-attention over pixels and semantic tokens together.

    The default is the released dense backbone (detection, segmentation):
    four NCHW outputs, each after its stage's LayerNorm ``norm{i}``; the last
    block has no semantic FFN; the learnt 8x8 query grid is always resized
    bicubically to the semantic grid. ``classifier=True`` is the trunk of the
    released ImageNet classifier, for :class:`DualViTClsHead`.

    Module names against the release's (the converter,
    :func:`mmsepvit.models.utils.convert_official_dualvit`, maps them):

    - ``patch_embed1.conv/proj/norm`` -> ``stages.0.patch_embed.convs/proj/
      norm``; ``patch_embed{i}`` -> ``stages.{i-1}.patch_embed``;
    - ``q``, ``q_embed``, ``kv``, ``se``, ``proxy_ln`` ->
      ``stages.0.semantic_embed.*``; ``proxy_embed{i}.proj_proxy.0/1`` ->
      ``stages.{i-1}.semantic_embed.proj/norm``;
    - ``block{i}.{j}`` -> ``stages.{i-1}.blocks.{j}`` (``mlp.dwconv.dwconv``
      -> ``mlp.dwconv``);
    - ``norm{i}``, ``norm_proxy{i}`` -> ``norm{i-1}``, ``norm_proxy{i-1}``;
      the classifier's ``norm4`` is the dense ``norm3`` (the same weights;
      with ``classifier=True`` it is :class:`DualViTClsHead`'s ``norm``).

    Args:
        arch (str | dict): 'small' ('s'), 'base' ('b'), 'large' ('l'), or a
            dict with the keys ``stem_width`` (int), and one entry per stage
            of ``embed_dims``, ``num_heads``, ``depths`` and ``mlp_ratios``
            (a number, or a list with one ratio per block: the release
            alternates 4 and 3 in stage 3). The release has no dense
            code for 'large'; it builds all the same.
        in_channels (int): Input image channels. Defaults to 3.
        classifier (bool): The trunk of the released classifier: the last
            block keeps its semantic FFN, stage 4 has no norm (the head's),
            the queries are resized only when the grid is not 8x8 tokens
            (as released), and ``forward`` returns
            ``((pixels (B, C, H/32, W/32), semantic tokens (B, M, C)), )``
            of stage 4, un-normed. Needs ``out_indices`` (3, ). Defaults to
            False.
        drop_path_rate (float): Stochastic depth rising linearly from 0 over
            all blocks to this value; it drops both block residuals and a
            Dual block's three semantic residuals. Defaults to 0.15 (the
            release's detection backbone, and S/B classifiers).
        out_indices (Sequence[int] | int): Stages whose outputs are
            returned. Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing; 0 the stem
            (``stages.0.patch_embed``: convs, BatchNorms, proj, norm);
            k >= 1 also stages 1..k with everything they own: the patch
            embedding, the semantic embedding (stage 1: ``q``, ``q_embed``,
            ``kv``, ``se``, ``proxy_ln``; stages 2-4: the release's
            ``proxy_embed{i}``), the blocks, ``norm{i}`` and
            ``norm_proxy{i}``. Frozen modules stay in eval mode, without
            gradients. Defaults to -1.
        norm_eval (bool): Keep the stem's BatchNorms on their running
            statistics in train mode. Defaults to False.
        norm_cfg (dict): The stem's BatchNorms; e.g. ``dict(type='SyncBN')``
            for segmentation, ``dict(type='BN', requires_grad=False)`` for
            the detection release's frozen affine. Defaults to
            ``dict(type='BN', requires_grad=True)``.
        eval_tile_size (int, optional): The segmentation release's test-time
            tiling: in eval mode an input with a side over this size is run
            whole, then again as tiles of at most this size (the last tile
            of a row or column aligned to the far edge), each tile's
            features overwriting the whole image's in its place, later tiles
            winning overlaps. The release uses 768; None (default) turns it
            off. Training mode never tiles.
        with_cp (bool): Non-reentrant activation checkpointing of each block.
            Defaults to False.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict | list[dict], optional): Initialisation config. With
            ``type='Pretrained'`` every weight must be found in the checkpoint
            with the right shape, and nothing unexpected may be left over.

    Example:
        >>> import torch
        >>> from mmsepvit.models.backbones import DualViT
        >>> model = DualViT(arch='small').eval()
        >>> outs = model(torch.rand(1, 3, 224, 224))
        >>> [tuple(out.shape) for out in outs]
        [(1, 64, 56, 56), (1, 128, 28, 28), (1, 320, 14, 14), (1, 448, 7, 7)]
    """
    _small = dict(
        stem_width=32,
        embed_dims=[64, 128, 320, 448],
        num_heads=[2, 4, 10, 14],
        depths=[3, 4, 6, 3],
        mlp_ratios=[8, 8, [4, 3] * 3, 3])
    _base = dict(
        stem_width=64,
        embed_dims=[64, 128, 320, 512],
        num_heads=[2, 4, 10, 16],
        depths=[3, 4, 15, 3],
        mlp_ratios=[8, 8, [4, 3] * 7 + [4], 3])
    _large = dict(
        stem_width=64,
        embed_dims=[96, 192, 384, 512],
        num_heads=[3, 6, 12, 16],
        depths=[3, 6, 21, 3],
        mlp_ratios=[8, 8, [4, 3] * 10 + [4], 3])
    arch_zoo: Dict[str, dict] = {
        **dict.fromkeys(['s', 'small'], _small),
        **dict.fromkeys(['b', 'base'], _base),
        **dict.fromkeys(['l', 'large'], _large),
    }
    arch_keys = ('embed_dims', 'num_heads', 'depths', 'mlp_ratios')
    num_dual_stages = 2

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 classifier: bool = False,
                 drop_path_rate: float = 0.15,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 eval_tile_size: Optional[int] = None,
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg, pretrained=pretrained)
        self.arch_settings = self.parse_arch(arch)
        embed_dims = self.arch_settings['embed_dims']
        depths = self.arch_settings['depths']
        num_heads = self.arch_settings['num_heads']
        self.embed_dims = embed_dims
        self.strides = tuple(4 * 2**i for i in range(len(embed_dims)))
        # The semantic grid needs one 7x7 cell of the stride-4 map.
        self.min_input_size = 4 * (POOL_SIZE - 1) + 1
        self.in_channels = in_channels
        self.classifier = classifier
        self.out_indices = self.check_out_indices(out_indices, self.num_stages)
        if classifier and self.out_indices != [self.num_stages - 1]:
            raise ValueError('DualViT: classifier=True returns the last '
                             f'stage only; out_indices must be '
                             f'({self.num_stages - 1}, ), got {out_indices}')
        self.frozen_stages = self.check_frozen_stages(frozen_stages,
                                                      self.num_stages)
        self.norm_eval = norm_eval
        if eval_tile_size is not None and eval_tile_size < max(
                self.min_input_size, self.strides[-1]):
            raise ValueError('DualViT: eval_tile_size must be at least '
                             f'{max(self.min_input_size, self.strides[-1])}, '
                             f'got {eval_tile_size}')
        self.eval_tile_size = eval_tile_size
        self.check_drop_path_rate(drop_path_rate)

        rates = torch.linspace(
            0, drop_path_rate, sum(depths), device='cpu').tolist()
        self.stages = ModuleList()
        for i in range(self.num_stages):
            if i == 0:
                patch_embed = Stem(in_channels,
                                   self.arch_settings['stem_width'],
                                   embed_dims[0], norm_cfg)
                semantic_embed = SemanticInit(
                    embed_dims[0], resize_always=not classifier)
            else:
                patch_embed = PatchEmbed(embed_dims[i - 1], embed_dims[i])
                semantic_embed = SemanticEmbed(embed_dims[i - 1],
                                               embed_dims[i])
            blocks = []
            for j in range(depths[i]):
                cfg = dict(
                    embed_dims=embed_dims[i],
                    num_heads=num_heads[i],
                    mlp_ratio=self.arch_settings['mlp_ratios'][i][j],
                    drop_path_rate=rates[sum(depths[:i]) + j],
                    with_cp=with_cp)
                if i < self.num_dual_stages:
                    blocks.append(DualBlock(**cfg))
                else:
                    is_last = (not classifier and i == self.num_stages - 1
                               and j == depths[i] - 1)
                    blocks.append(MergeBlock(**cfg, is_last=is_last))
            self.stages.append(
                DualViTStage(patch_embed, semantic_embed, blocks))
            # The classifier's last norm is its head's.
            if not classifier or i < self.num_stages - 1:
                self.add_module(
                    f'norm{i}',
                    nn.LayerNorm(embed_dims[i], eps=BLOCK_NORM_EPS))
            if i < self.num_stages - 1:
                self.add_module(
                    f'norm_proxy{i}',
                    nn.LayerNorm(embed_dims[i], eps=BLOCK_NORM_EPS))
        # Frozen from the start: a DDP wrapper made before train() must not
        # wait for gradients of frozen weights.
        self._freeze_stages()

    def parse_arch(self, arch: Union[str, dict]) -> dict:
        """The zoo entry or a checked dict; ``mlp_ratios`` become one list
        per stage with a ratio per block."""
        if isinstance(arch, dict):
            arch = dict(arch)
            if 'stem_width' not in arch:
                raise ValueError('DualViT: arch dict needs exactly the keys '
                                 f'{["stem_width", *self.arch_keys]}; missing '
                                 "['stem_width']")
            stem_width = arch.pop('stem_width')
            if not isinstance(stem_width, int) or stem_width < 1:
                raise ValueError('DualViT: stem_width must be a positive '
                                 f'int, got {stem_width!r}')
            arch = dict(super().parse_arch(arch), stem_width=stem_width)
        else:
            arch = dict(super().parse_arch(arch))
        ratios = []
        for i, (ratio,
                depth) in enumerate(zip(arch['mlp_ratios'], arch['depths'])):
            ratio = list(ratio) if isinstance(ratio,
                                              (list,
                                               tuple)) else [ratio] * depth
            if len(ratio) != depth or any(r <= 0 for r in ratio):
                raise ValueError(f'DualViT: stage {i} has depth {depth} but '
                                 f'mlp ratios {ratio}')
            ratios.append(ratio)
        arch['mlp_ratios'] = ratios
        return arch

    def _check_arch(self, arch: dict) -> None:
        super()._check_arch(arch)
        if len(arch['depths']) != 4 or min(arch['depths']) < 1:
            raise ValueError('DualViT: needs 4 stages of at least one block, '
                             f'got depths {arch["depths"]}')

    # Weights.
    def _init_released(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.02, bias=0.)
            elif isinstance(m, nn.LayerNorm):
                constant_init(m, val=1., bias=0.)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                normal_init(
                    m,
                    mean=0.,
                    std=math.sqrt(2. * m.groups / fan_out),
                    bias=0.)
            elif isinstance(m, SemanticInit):
                trunc_normal_init(m.q, std=.02)
            elif isinstance(m, (DualBlock, MergeBlock, DualAttention)):
                for name in ('gamma1', 'gamma2', 'gamma3'):
                    if hasattr(m, name):
                        nn.init.constant_(getattr(m, name), 1e-6)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()

    def transfer_state_dict(self, state_dict: Dict[str, torch.Tensor],
                            source: str) -> Dict[str, torch.Tensor]:
        """Check ``state_dict`` against this model; the dense backbone also
        takes the trunk of a classifier checkpoint of this package
        (``DualViT(classifier=True)`` with :class:`DualViTClsHead`, as
        configs/dualvit_*_in1k.py train; ``prefix='backbone.'``): the last
        block's semantic FFN is dropped and the head's ``norm`` (the
        release's ``norm4``) becomes the last stage's norm.

        Raises:
            ValueError: Keys missing, unexpected or mis-shaped, each listed.
        """
        if any(k.startswith(('patch_embed1.', 'block1.')) for k in state_dict):
            raise ValueError(
                f"{source} is in the layout of the authors' released Dual-ViT "
                'code: convert it with '
                'tools/model_converters/dualvit2mmsepvit.py first')
        if not self.classifier:
            state_dict = self._from_classifier(state_dict, source)
        check_state_dict(state_dict, self, source)
        return state_dict

    def _from_classifier(self, state_dict: Dict[str, torch.Tensor],
                         source: str) -> Dict[str, torch.Tensor]:
        last = self.num_stages - 1
        semantic_ffn = (f'stages.{last}.blocks.'
                        f'{len(self.stages[last].blocks) - 1}.mlp.fc_proxy.')
        dropped = sorted(k for k in state_dict if k.startswith(semantic_ffn))
        if not dropped or f'norm{last}.weight' in state_dict:
            return state_dict
        # The prefix stripped the head: read its norm from the checkpoint.
        head_norm = {
            f'norm{last}.{k[len("head.norm."):]}': v
            for k, v in load_pretrained_state_dict(source).items()
            if k.startswith('head.norm.')
        }
        if not head_norm:
            return state_dict
        MMLogger.get_current_instance().warning(
            f'DualViT: {source} is a classifier checkpoint; its head.norm '
            f'becomes norm{last}, and {dropped} (the last block\'s semantic '
            'FFN, which the dense backbone has not) are dropped.')
        state_dict = {
            k: v
            for k, v in state_dict.items() if not k.startswith(semantic_ffn)
        }
        return dict(state_dict, **head_norm)

    # Freezing.
    def frozen_modules(self) -> List[nn.Module]:
        frozen = []
        if self.frozen_stages >= 0:
            frozen.append(self.stages[0].patch_embed)
        for i in range(self.frozen_stages):
            frozen.append(self.stages[i])
            for name in (f'norm{i}', f'norm_proxy{i}'):
                if hasattr(self, name):
                    frozen.append(getattr(self, name))
        return frozen

    # Forward.
    def stage_outputs(self,
                      x: torch.Tensor,
                      last: Optional[int] = None) -> List[torch.Tensor]:
        """Check the input and return the NCHW output of every stage up to
        ``last`` (all by default), each after its ``norm{i}``; views."""
        self._check_input(x)
        return self._stage_outputs(x, last)[0]

    def _stage_outputs(
        self,
        x: torch.Tensor,
        last: Optional[int] = None
    ) -> Tuple[List[torch.Tensor], Optional[torch.Tensor]]:
        """The stage maps, and in classifier mode stage 4's semantic
        tokens."""
        last = self.num_stages - 1 if last is None else last
        maps, semantics = [], None
        for i, stage in enumerate(self.stages[:last + 1]):
            x = stage.patch_embed(x)
            batch, height, width, _ = x.shape
            hw = (height, width)
            if i == 0:
                semantics = stage.semantic_embed(x)
            else:
                semantics = stage.semantic_embed(semantics)
            x = x.flatten(1, 2)
            if i < self.num_dual_stages:
                for block in stage.blocks:
                    x, semantics = block(x, semantics, hw)
            else:
                x = torch.cat([x, semantics], 1)
                for block in stage.blocks:
                    x = block(x, hw)
                x, semantics = x[:, :height * width], x[:, height * width:]
            norm = getattr(self, f'norm{i}', None)
            if norm is not None:
                x = norm(x)
            proxy_norm = getattr(self, f'norm_proxy{i}', None)
            if proxy_norm is not None:  # stages 1-3 (not once pruned)
                semantics = proxy_norm(semantics)
            x = x.transpose(1, 2).view(batch, -1, height, width)
            maps.append(x)
        return maps, semantics

    def forward(self, x: torch.Tensor) -> tuple:
        """The NCHW maps of ``out_indices``; in classifier mode
        ``((pixels, semantic tokens), )`` of stage 4, un-normed."""
        if self.classifier:
            self._check_input(x)
            maps, semantics = self._stage_outputs(x)
            return ((maps[-1].contiguous(), semantics), )
        if self.training or self.eval_tile_size is None:
            return super().forward(x)
        return self._forward_tiled(x)

    @staticmethod
    def _tiles(size: int, tile: int) -> List[Tuple[int, int]]:
        """(begin, end) of the tiles along a side: tiles of ``tile`` from 0,
        the last one ending at ``size``."""
        count = math.ceil(size / tile)
        spans = [(i * tile, (i + 1) * tile) for i in range(count - 1)]
        return spans + [(max(0, size - tile), size)]

    def _forward_tiled(self, x: torch.Tensor) -> tuple:
        """The segmentation release's test-time tiling (``eval_tile_size``):
        tile features overwrite the whole image's; a non-last tile goes
        where the previous tiles' features end, the last one of a row or
        column ends at the map's far edge."""
        outs = [out.clone() for out in super().forward(x)]
        height, width = x.shape[2:]
        size = self.eval_tile_size
        if height <= size and width <= size:
            return tuple(outs)
        rows, cols = self._tiles(height, size), self._tiles(width, size)
        top = [0] * len(outs)
        for r, (y0, y1) in enumerate(rows):
            left = [0] * len(outs)
            for c, (x0, x1) in enumerate(cols):
                tile_outs = super().forward(x[:, :, y0:y1, x0:x1])
                for j, (out, feat) in enumerate(zip(outs, tile_outs)):
                    fh, fw = feat.shape[2:]
                    oh, ow = out.shape[2:]
                    fy = oh - fh if r == len(rows) - 1 else top[j]
                    fx = ow - fw if c == len(cols) - 1 else left[j]
                    out[:, :, fy:fy + fh, fx:fx + fw] = feat
                    left[j] += fw
            for j, feat in enumerate(tile_outs):
                top[j] += feat.shape[2]
        return tuple(outs)


@register_model()
class DualViTClsHead(BaseModule):
    """The released Dual-ViT classifier's head, on the trunk of
    ``DualViT(classifier=True)``.

    The class token, the mean of all stage-4 tokens (pixels and semantic
    tokens), goes through one CaiT class-attention block (no layer scale, no
    drop path); ``norm`` (the release's ``norm4``) then normalises it and
    the pixels; logits = ``fc``(class token). With ``token_label`` (the
    published models) an auxiliary head scores every pixel token, and the
    eval logits add ``aux_weight`` times its per-class maximum.

    Training needs no token-label maps here: :meth:`loss` is the loss of the
    class token's logits alone (mmpretrain's ``ClsHead`` way, soft targets of
    Mixup/CutMix included), so train with ``token_label=False`` unless the
    aux head is wanted for inference.

    Importing this module does not import mmpretrain; building the loss and
    :meth:`predict` use it.

    Args:
        num_classes (int): Classes.
        in_channels (int): Channels of stage 4.
        num_heads (int): Heads of the class attention (stage 4's).
        mlp_ratio (float): The class block's FFN ratio. Defaults to 2.
        token_label (bool): Build the aux head and add it at inference.
            Defaults to True.
        aux_weight (float): Weight of the aux head's maximum. Defaults to
            0.5.
        loss (dict): mmpretrain loss config. Defaults to cross-entropy.
        init_cfg (dict | list[dict], optional): None (default) is the
            release's: Linear trunc-normal 0.02, LayerNorm 1/0.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_heads: int,
                 mlp_ratio: float = 2.,
                 token_label: bool = True,
                 aux_weight: float = 0.5,
                 loss: Union[dict, nn.Module] = dict(
                     type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
            ]
        super().__init__(init_cfg=init_cfg)
        if in_channels % num_heads:
            raise ValueError(f'DualViTClsHead: in_channels {in_channels} is '
                             f'not divisible by num_heads {num_heads}')
        self.num_classes = num_classes
        self.num_heads = num_heads
        self.token_label = token_label
        self.aux_weight = aux_weight
        if isinstance(loss, dict):
            from mmpretrain.registry import MODELS
            loss = MODELS.build(loss)
        self.loss_module = loss

        self.cls_block = nn.Module()
        self.cls_block.norm1 = nn.LayerNorm(in_channels, eps=BLOCK_NORM_EPS)
        self.cls_block.attn = nn.Module()
        self.cls_block.attn.q = nn.Linear(in_channels, in_channels)
        self.cls_block.attn.kv = nn.Linear(in_channels, 2 * in_channels)
        self.cls_block.attn.proj = nn.Linear(in_channels, in_channels)
        self.cls_block.norm2 = nn.LayerNorm(in_channels, eps=BLOCK_NORM_EPS)
        hidden = int(in_channels * mlp_ratio)
        self.cls_block.mlp = nn.Module()
        self.cls_block.mlp.fc1 = nn.Linear(in_channels, hidden)
        self.cls_block.mlp.fc2 = nn.Linear(hidden, in_channels)
        self.norm = nn.LayerNorm(in_channels, eps=BLOCK_NORM_EPS)
        self.fc = nn.Linear(in_channels, num_classes)
        self.aux_fc = nn.Linear(in_channels,
                                num_classes) if token_label else None

    def _class_token(self, tokens: torch.Tensor) -> torch.Tensor:
        block = self.cls_block
        cls = tokens.mean(1, keepdim=True)
        z = block.norm1(torch.cat([cls, tokens], 1))
        q, = project_heads(z[:, :1], block.attn.q, self.num_heads, parts=1)
        k, v = project_heads(z, block.attn.kv, self.num_heads, parts=2)
        attn = _merge_heads(F.scaled_dot_product_attention(q, k, v))
        cls = cls + block.attn.proj(attn)
        return cls + block.mlp.fc2(F.gelu(block.mlp.fc1(block.norm2(cls))))

    def _features(self, feats: tuple) -> Tuple[torch.Tensor, torch.Tensor]:
        """The normed class token and the pixel tokens."""
        pixels, semantics = feats[-1]
        pixels = pixels.flatten(2).transpose(1, 2)
        cls = self._class_token(torch.cat([pixels, semantics], 1))
        return self.norm(cls[:, 0]), pixels

    def pre_logits(self, feats: tuple) -> torch.Tensor:
        """The normed class token, what ``fc`` classifies."""
        return self._features(feats)[0]

    def _logits(self, feats: tuple) -> Tuple[torch.Tensor, torch.Tensor]:
        """The class token's logits and the pixel tokens."""
        cls, pixels = self._features(feats)
        return self.fc(cls), pixels

    def forward(self, feats: tuple) -> torch.Tensor:
        """The logits: the class token's, plus ``aux_weight`` times the
        aux head's per-class maximum over pixels with ``token_label``."""
        logits, pixels = self._logits(feats)
        if self.aux_fc is None:
            return logits
        aux = self.aux_fc(self.norm(pixels)).amax(1)
        return logits + self.aux_weight * aux

    def loss(self, feats: tuple, data_samples: list, **kwargs) -> dict:
        """The loss of the class token's logits."""
        logits = self._logits(feats)[0]
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
        else:
            target = torch.cat([s.gt_label for s in data_samples])
        return dict(
            loss=self.loss_module(
                logits, target, avg_factor=logits.size(0), **kwargs))

    def predict(self, feats: tuple, data_samples: Optional[list] = None):
        """mmpretrain DataSamples with the predicted scores and labels."""
        from mmpretrain.structures import DataSample
        scores = F.softmax(self(feats), dim=1)
        labels = scores.argmax(dim=1, keepdim=True).detach()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.size(0))]
        for sample, score, label in zip(data_samples, scores, labels):
            sample.set_pred_score(score).set_pred_label(label)
        return data_samples
