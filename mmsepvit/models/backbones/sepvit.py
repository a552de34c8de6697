# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""SepViT: Separable Vision Transformer.

Li et al., "SepViT: Separable Vision Transformer",
https://arxiv.org/abs/2203.15380
"""
import math
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import (constant_init, normal_init,
                                        trunc_normal_init)
from mmengine.utils import to_2tuple

from mmsepvit.models.layers import (DropPathResidual, linear, project_heads,
                                    window_merge, window_partition)
from mmsepvit.registry import register_model
from mmsepvit.utils import check_state_dict
from .base_backbone import MultiStageBackbone

WINDOW_TOKENS = ('zero', 'learnable', 'per_window')
# Block and stage-output norms of the released code use eps 1e-6; the patch
# embedding and window-token norms keep PyTorch's default 1e-5.
BLOCK_NORM_EPS = 1e-6


class Mlp(BaseModule):
    """Linear, GELU, dropout, linear, dropout.

    Args:
        embed_dims (int): Input and output channels.
        hidden_dims (int): Hidden channels.
        drop (float): Dropout after the activation and the output.
    """

    def __init__(self,
                 embed_dims: int,
                 hidden_dims: int,
                 drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop1(linear(x, self.fc1, gelu=True))
        return self.drop2(linear(x, self.fc2))


class OverlapPatchEmbed(BaseModule):
    """Overlapping patch embedding: a strided convolution, then LayerNorm.

    Args:
        in_channels (int): Input channels.
        embed_dims (int): Output channels.
        kernel_size (int): 7 for the first stage (stride 4), 3 for the others
            (stride 2); padding keeps the output at ``ceil(size / stride)``.
        stride (int): Convolution stride.
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int,
                 stride: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(
            in_channels,
            embed_dims,
            kernel_size=kernel_size,
            stride=stride,
            padding=kernel_size // 2)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> channels-last (B, H', W', C)."""
        # A channels-last convolution leaves the norm a contiguous input.
        x = self.projection(x.contiguous(memory_format=torch.channels_last))
        B, C, H, W = x.shape
        return self.norm(x.flatten(2).transpose(1, 2)).view(B, H, W, C)


class ConditionalPositionEncoding(BaseModule):
    """CPVT's position encoding generator: depthwise 3x3 conv plus identity."""

    def __init__(self, embed_dims: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(
            embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last (B, H, W, C) in and out."""
        B, H, W, C = x.shape
        encoding = self.proj(x.permute(0, 3, 1, 2)).flatten(2).transpose(1, 2)
        return (x.reshape(B, H * W, C) + encoding).view(B, H, W, C)


class DepthwiseSeparableAttention(BaseModule):
    """Depthwise separable self-attention (DSSA).

    Depthwise attention mixes the pixels of each window together with the
    window's token; pointwise attention then mixes the windows, with a query
    and a key per window made from its token, and the window's pixels (per
    head) as one value vector. Each of the two carries an inner residual.
    With ``window_size`` 14 this is the paper's grouped self-attention (GSA).
    In the released code's order, the steps are:

    1. pad the map to whole windows and split it (:class:`SepViTBlock`);
    2. prepend the window tokens and normalise (:class:`SepViTBlock`);
    3. depthwise attention plus the normalised windows
       (:meth:`depthwise_attention`);
    4. split the tokens from the pixels, and
    5. pointwise attention plus the pixels (:meth:`pointwise_attention`);
    6. merge the windows, crop the padding, project (:meth:`forward`).

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        window_size (int): Window side in tokens.
        pointwise (bool): Run pointwise attention. When False (the released
            classifier's single-window blocks) there is no window token either.
        qkv_bias (bool): Bias in the query/key/value projections.
        attn_drop (float): Dropout on attention weights.
        proj_drop (float): Dropout after the output projection.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int,
                 pointwise: bool = True,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.window_size = window_size
        self.pointwise = pointwise
        self.attn_drop = attn_drop

        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        if pointwise:
            self.token_norm = nn.LayerNorm(embed_dims)
            self.token_act = nn.GELU()
            self.token_qk = nn.Linear(
                embed_dims, embed_dims * 2, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, windows: torch.Tensor, height: int,
                width: int) -> torch.Tensor:
        """Steps 3 to 6 of DSSA on normalised windows (steps 1 and 2, padding,
        tokens and the norm, are :class:`SepViTBlock`'s).

        Args:
            windows (Tensor): (B, nW, [1 +] ws*ws, C), the window token first
                when ``pointwise``, already normalised.
            height (int): Unpadded map height.
            width (int): Unpadded map width.

        Returns:
            Tensor: (B, height, width, C).
        """
        B, num_windows, _, C = windows.shape
        x = self.depthwise_attention(windows)
        if self.pointwise:
            x = self.pointwise_attention(x)
        # Step 6: merge the windows, crop the padding, project.
        x = window_merge(
            x.reshape(B, num_windows, -1, C), height, width, self.window_size)
        return self.proj_drop(linear(x, self.proj))

    def depthwise_attention(self, windows: torch.Tensor) -> torch.Tensor:
        """Step 3: multi-head attention among the tokens of each window,
        plus the normalised windows (the first inner residual).

        Args:
            windows (Tensor): (B, nW, T, C).

        Returns:
            Tensor: (B, nW, T, heads, C / heads).
        """
        B, num_windows, num_tokens, C = windows.shape
        x = F.scaled_dot_product_attention(
            *project_heads(
                windows.view(B * num_windows, num_tokens, C), self.qkv,
                self.num_heads),
            dropout_p=self._attn_dropout())
        # The residual sum also brings the heads back to the channel layout.
        x = windows.view(B * num_windows, num_tokens, self.num_heads,
                         self.head_dims) + x.transpose(1, 2)
        return x.unflatten(0, (B, num_windows))

    def pointwise_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Steps 4 and 5: attention among the windows, with a query and a key
        per window made from its token and, per head, the window's pixels as
        one value vector; plus the pixels (the second inner residual).

        Every layout change is a transpose of at most four dimensions, which
        the runtimes run on their fast kernels: the value vectors come from
        one (window and pixel) by head transpose of the depthwise output,
        and the residual sum is taken in their layout.

        Args:
            x (Tensor): (B, nW, 1 + P, heads, C / heads), tokens first.

        Returns:
            Tensor: (B, nW, P, C), the pixels.
        """
        B, num_windows, num_tokens, heads, head_dims = x.shape
        num_pixels = num_tokens - 1
        tokens = x[:, :, 0].reshape(B, num_windows, heads * head_dims)
        qk = self.token_qk(self.token_act(self.token_norm(tokens)))
        q, k = qk.view(B, num_windows, 2 * heads,
                       head_dims).transpose(1, 2).chunk(
                           2, dim=1)
        # (B, nW*T, heads, d) -> (B, heads, nW, T, d) views, then one copy
        # of the pixels (tokens dropped) as (B*heads, nW, P*d).
        by_head = x.reshape(B, num_windows * num_tokens, heads,
                            head_dims).transpose(1, 2)
        v = by_head.unflatten(2, (num_windows, num_tokens))[:, :, :, 1:]
        v = v.reshape(B * heads, num_windows, -1)
        attn = (q * head_dims**-0.5) @ k.transpose(-2, -1)
        attn = F.dropout(attn.softmax(-1), self._attn_dropout(), self.training)
        # Not baddbmm: mmengine's FLOP counter skips it.
        x = v + attn.flatten(0, 1) @ v
        x = x.view(B, heads, num_windows * num_pixels, head_dims)
        return x.transpose(1, 2).reshape(B, num_windows, num_pixels,
                                         heads * head_dims)

    def _attn_dropout(self) -> float:
        return self.attn_drop if self.training else 0.


class SepViTBlock(BaseModule):
    """A pre-norm SepViT block: DSSA then an MLP, each with a residual.

    The released code applies the first LayerNorm after padding and adding
    the window tokens, so padded pixels and zero tokens come out as the
    norm's bias; this block normalises the unpadded map and fills those
    places with the bias directly, which is exact. Its outputs and every
    gradient are held equal to the paper-form block, step by step in plain
    ops, of ``tests/reference_sepvit_block.py``.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        window_size (int): Window side in tokens.
        window_token (str): 'zero', 'learnable' or 'per_window'.
        num_windows (int, optional): Windows at the fixed input size; needed
            for ``window_token='per_window'``. One window there means no token
            and no pointwise attention.
        mlp_ratio (float): MLP hidden size over ``embed_dims``.
        qkv_bias (bool): Bias in the query/key/value projections.
        drop_rate (float): Dropout after the attention and MLP projections.
        attn_drop_rate (float): Dropout on attention weights.
        drop_path_rate (float): Stochastic depth of this block.
        with_cp (bool): Recompute the block in backward to save memory.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int,
                 window_token: str = 'zero',
                 num_windows: Optional[int] = None,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.window_size = window_size
        self.with_cp = with_cp

        # The released classifier has neither a token nor pointwise attention
        # where a block sees a single window.
        pointwise = window_token != 'per_window' or num_windows > 1
        if window_token == 'learnable':
            self.window_token = nn.Parameter(torch.zeros(1, 1, 1, embed_dims))
        elif window_token == 'per_window' and pointwise:
            self.window_token = nn.Parameter(
                torch.zeros(1, num_windows, 1, embed_dims))
        else:
            self.window_token = None

        self.norm1 = nn.LayerNorm(embed_dims, eps=BLOCK_NORM_EPS)
        self.attn = DepthwiseSeparableAttention(
            embed_dims,
            num_heads,
            window_size,
            pointwise=pointwise,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate)
        self.drop_path = DropPathResidual(drop_path_rate)
        self.norm2 = nn.LayerNorm(embed_dims, eps=BLOCK_NORM_EPS)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), drop_rate)

    def _windows(self, x: torch.Tensor, height: int,
                 width: int) -> torch.Tensor:
        """Normalise, pad, split into windows and prepend the window tokens.

        Normalising before padding is exact: the released code normalises
        zero pixels and zero tokens, which come out as the norm's bias.

        Args:
            x (Tensor): (B, height * width, C).
        """
        bias = self.norm1.bias
        if not self.attn.pointwise:
            token = None
        elif self.window_token is None:
            token = bias.view(1, 1, -1)  # zero tokens, normalised
        else:
            token = self.norm1(self.window_token).squeeze(2)
        normed = self.norm1(x).view(x.shape[0], height, width, -1)
        return window_partition(normed, self.window_size, bias, token)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        # Residual sums, norms and MLPs see (B, H*W, C), the same memory, in
        # this whole file: OpenVINO lays an exported 4-D stream out as an
        # image (channels second) and reorders it before every norm.
        x = x.reshape(B, H * W, C)
        attn = self.attn(self._windows(x, H, W), H, W)
        x = self.drop_path(x, attn.reshape(B, H * W, C))
        x = self.drop_path(x, self.mlp(self.norm2(x)))
        return x.view(B, H, W, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last (B, H, W, C) in and out."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class SepViTStage(BaseModule):
    """Patch embedding, SepViT blocks, and the position encoding after the
    stage's first block."""

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int,
                 stride: int, blocks: List[dict]) -> None:
        super().__init__()
        self.patch_embed = OverlapPatchEmbed(in_channels, embed_dims,
                                             kernel_size, stride)
        self.blocks = ModuleList([SepViTBlock(**cfg) for cfg in blocks])
        self.pos_embed = ConditionalPositionEncoding(embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """NCHW in, channels-last (B, H', W', C) out."""
        x = self.patch_embed(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 0:
                x = self.pos_embed(x)
        return x


@register_model()
class SepViT(MultiStageBackbone):
    """SepViT backbone: `SepViT: Separable Vision Transformer
    <https://arxiv.org/abs/2203.15380>`_.

    Four stages of overlapping patch embedding and blocks of depthwise
    separable self-attention (DSSA, window 7) alternating with grouped
    self-attention (GSA, window 14), at strides 4, 8, 16 and 32.

    The default is the released dense-prediction model: zero window tokens,
    and a LayerNorm after every stage whose output also feeds the next stage.
    The released ImageNet classifier is ``window_token='per_window'``,
    ``img_size=224``, ``stage_norm=False``, ``out_indices=(3, )``.

    The layers run on the fast paths of :mod:`mmsepvit.models.layers`
    (windows written in one pass, fused kernels, hand-written backwards);
    ``tests/reference_sepvit_block.py`` holds the paper-form block, step by
    step in plain ops, that the tests keep them equal to.

    Args:
        arch (str | dict): 'lite' ('l'), 'tiny' ('t'), 'small' ('s'), 'base'
            ('b'), or a dict with exactly the keys ``embed_dims``,
            ``num_heads``, ``depths`` (one entry per stage) and
            ``window_sizes`` (one list per stage, one size per block).
        in_channels (int): Input image channels. Defaults to 3.
        window_token (str): How each window's token starts:

            - 'zero': a fixed zero vector (the released dense code).
            - 'learnable': one learnable vector per block shared by all
              windows, zero-initialised (the paper's best); any input size.
            - 'per_window': one learnable vector per window, for inputs of
              exactly ``img_size`` (the released classifier at 224). Blocks
              that see a single window at that size have no token and no
              pointwise attention.

            Defaults to 'zero'.
        img_size (int | tuple, optional): The fixed input size of
            ``window_token='per_window'``; not allowed otherwise.
        stage_norm (bool): LayerNorm after every stage, feeding the next stage
            (the released dense code). False normalises only the last stage
            (the released classifier's final norm) and needs ``out_indices``
            to be (num_stages - 1, ). Defaults to True.
        mlp_ratio (float): MLP hidden size over channels. Defaults to 4.
        qkv_bias (bool): Bias in query/key/value projections. Defaults to True.
        drop_rate (float): Dropout after projections. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly from 0 over
            all blocks to this value. Defaults to 0.1.
        out_indices (Sequence[int] | int): Stages whose outputs are returned;
            negative indices count from the end. Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing, 0 the first patch embedding,
            k >= 1 stages 1..k with their output norms (eval mode, no
            gradients). Defaults to -1.
        norm_eval (bool): Accepted so that configs written for BatchNorm
            backbones, which freeze their statistics with it, work unchanged.
            SepViT normalises with LayerNorms only, which keep no statistics
            and compute the same in train and eval mode: it changes nothing.
            Defaults to False.
        with_cp (bool): Non-reentrant activation checkpointing of each block.
            Defaults to False.
        pretrained (str, optional): Deprecated, use ``init_cfg``; mmseg's
            segmentors still pass their ``pretrained`` here. Same as
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``.
        init_cfg (dict | list[dict], optional): Initialisation config. With
            ``type='Pretrained'`` (optionally ``prefix='backbone.'``) every
            weight must be found in the checkpoint with the right shape, and
            nothing unexpected may be left over.

    Example:
        >>> import torch
        >>> from mmsepvit.models import SepViT
        >>> model = SepViT(arch='tiny').eval()
        >>> outs = model(torch.rand(1, 3, 224, 224))
        >>> [tuple(out.shape) for out in outs]
        [(1, 96, 56, 56), (1, 192, 28, 28), (1, 384, 14, 14), (1, 768, 7, 7)]
    """
    _lite = dict(
        embed_dims=[32, 64, 128, 256],
        num_heads=[1, 2, 4, 8],
        depths=[1, 2, 6, 2],
        window_sizes=[[7], [7, 14], [7, 14] * 3, [7, 7]])
    _tiny = dict(
        _lite, embed_dims=[96, 192, 384, 768], num_heads=[3, 6, 12, 24])
    _small = dict(
        _tiny,
        depths=[1, 2, 14, 2],
        window_sizes=[[7], [7, 14], [7, 14] * 7, [7, 7]])
    _base = dict(
        _small, embed_dims=[128, 256, 512, 1024], num_heads=[4, 8, 16, 32])
    arch_zoo: Dict[str, dict] = {
        **dict.fromkeys(['l', 'lite'], _lite),
        **dict.fromkeys(['t', 'tiny'], _tiny),
        **dict.fromkeys(['s', 'small'], _small),
        **dict.fromkeys(['b', 'base'], _base),
    }
    arch_keys = ('embed_dims', 'num_heads', 'depths', 'window_sizes')

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 window_token: str = 'zero',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 stage_norm: bool = True,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg, pretrained=pretrained)

        self.arch_settings = self.parse_arch(arch)
        embed_dims = self.arch_settings['embed_dims']
        # The stem divides the map by 4 and each later stage by 2 more.
        self.strides = tuple(4 * 2**i for i in range(len(embed_dims)))
        # The last stage needs at least one token.
        self.min_input_size = self.strides[-1]
        self.in_channels = in_channels
        if window_token not in WINDOW_TOKENS:
            raise ValueError(f'SepViT: unknown window_token {window_token!r}; '
                             f'choose one of {list(WINDOW_TOKENS)}')
        self.img_size = self._check_img_size(window_token, img_size)
        self.out_indices = self._check_out_indices(out_indices, stage_norm)
        self.frozen_stages = self.check_frozen_stages(frozen_stages,
                                                      self.num_stages)
        self.norm_eval = norm_eval
        self.check_drop_path_rate(drop_path_rate)

        depths = self.arch_settings['depths']
        drop_path_rates = torch.linspace(
            0, drop_path_rate, sum(depths), device='cpu').tolist()
        self.stages = ModuleList()
        for i in range(self.num_stages):
            block_cfgs = []
            for j, window_size in enumerate(
                    self.arch_settings['window_sizes'][i]):
                block_cfgs.append(
                    dict(
                        embed_dims=embed_dims[i],
                        num_heads=self.arch_settings['num_heads'][i],
                        window_size=window_size,
                        window_token=window_token,
                        num_windows=self._windows_at_img_size(i, window_size),
                        mlp_ratio=mlp_ratio,
                        qkv_bias=qkv_bias,
                        drop_rate=drop_rate,
                        attn_drop_rate=attn_drop_rate,
                        drop_path_rate=drop_path_rates[sum(depths[:i]) + j],
                        with_cp=with_cp))
            self.stages.append(
                SepViTStage(
                    in_channels=in_channels if i == 0 else embed_dims[i - 1],
                    embed_dims=embed_dims[i],
                    kernel_size=7 if i == 0 else 3,
                    stride=4 if i == 0 else 2,
                    blocks=block_cfgs))

        normed = range(
            self.num_stages) if stage_norm else [self.num_stages - 1]
        for i in normed:
            self.add_module(f'norm{i}',
                            nn.LayerNorm(embed_dims[i], eps=BLOCK_NORM_EPS))
        # Frozen from the start: a DDP wrapper made before train() must not
        # wait for gradients of frozen weights.
        self._freeze_stages()

    def _check_arch(self, arch: dict) -> None:
        super()._check_arch(arch)
        for i, sizes in enumerate(arch['window_sizes']):
            sizes = list(sizes)
            if len(sizes) != arch['depths'][i] or arch['depths'][i] < 1:
                raise ValueError(
                    f'SepViT: stage {i} has depth {arch["depths"][i]} but '
                    f'{len(sizes)} window sizes {sizes}')
            if any(not isinstance(s, int) or s < 1 for s in sizes):
                raise ValueError(f'SepViT: stage {i} window sizes must be '
                                 f'positive integers, got {sizes}')

    def _check_img_size(self, window_token: str,
                        img_size) -> Optional[Tuple[int, int]]:
        if window_token != 'per_window':
            if img_size is not None:
                raise ValueError(
                    "SepViT: img_size only applies to window_token="
                    f"'per_window', not {window_token!r}")
            return None
        if img_size is None:
            raise ValueError("SepViT: window_token='per_window' needs the "
                             'fixed input size, e.g. img_size=224')
        img_size = to_2tuple(img_size)
        if min(img_size) < self.min_input_size:
            raise ValueError(f'SepViT: img_size {img_size} is below the '
                             f'smallest input, {self.min_input_size} pixels')
        return img_size

    def _windows_at_img_size(self, stage: int,
                             window_size: int) -> Optional[int]:
        if self.img_size is None:
            return None
        # Every patch embedding rounds up; maps are padded to whole windows.
        return math.prod(
            math.ceil(math.ceil(side / self.strides[stage]) / window_size)
            for side in self.img_size)

    def _check_out_indices(self, out_indices, stage_norm: bool) -> List[int]:
        checked = self.check_out_indices(out_indices, self.num_stages)
        if not stage_norm and checked != [self.num_stages - 1]:
            raise ValueError(
                'SepViT: stage_norm=False normalises only the last stage, so '
                f'out_indices must be ({self.num_stages - 1}, ), got '
                f'{out_indices}')
        return checked

    def transfer_state_dict(self, state_dict: Dict[str, torch.Tensor],
                            source: str) -> Dict[str, torch.Tensor]:
        """Select the weights of ``state_dict`` this model takes.

        A checkpoint of another SepViT layout (the ImageNet classifier with
        per-window tokens, no pointwise attention in single-window blocks and
        only a final norm; or another window-token mode) carries every weight
        that has a counterpart of the same shape. Only the parts by which the
        layouts differ may be dropped (window tokens) or start from this
        model's initialisation (pointwise-attention weights, stage norms); the
        log lists both. Anything else that does not fit raises an error.

        Raises:
            ValueError: Keys missing, unexpected or mis-shaped beyond layout
                differences, e.g. another architecture's weights.
        """
        own = self.state_dict()
        fits = {
            k: v
            for k, v in state_dict.items()
            if k in own and own[k].shape == v.shape
        }
        dropped = sorted(set(state_dict) - set(fits))
        fresh = sorted(set(own) - set(fits))
        layout_specific = re.compile(
            r'(\.window_token$|\.attn\.token_(norm|qk)\.|^norm\d+\.)')
        if any(not layout_specific.search(k) for k in dropped + fresh):
            # Not a layout difference: report every problem.
            check_state_dict(state_dict, self, source)
        if dropped or fresh:
            MMLogger.get_current_instance().warning(
                f'SepViT: loaded {len(fits)} of {len(own)} tensors from '
                f'{source}, which has another SepViT layout.\n'
                f'Dropped, with no counterpart here: {dropped or "none"}\n'
                f'Starting from initialisation: {fresh or "none"}')
        return fits

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
            elif isinstance(m, SepViTBlock) and m.window_token is not None:
                nn.init.zeros_(m.window_token)
        # The release zeroes these biases too, but then a padded border (zero
        # pixels, which mmdet and mmseg add to every batch of mixed sizes)
        # reaches each patch embedding's LayerNorm as all-zero vectors, whose
        # input gradient is 1/sqrt(eps): from-scratch training started with
        # gradients ~45x those of an unpadded batch, nearly all in the stem's
        # bias. PyTorch's default bias init (as Swin's patch embedding keeps)
        # makes padded pixels the bias vector, normalised like any other.
        for stage in self.stages:
            conv = stage.patch_embed.projection
            bound = 1 / math.sqrt(conv.weight[0].numel())
            nn.init.uniform_(conv.bias, -bound, bound)

    def frozen_modules(self) -> List[nn.Module]:
        frozen = []
        if self.frozen_stages >= 0:
            frozen.append(self.stages[0].patch_embed)
        for i in range(self.frozen_stages):
            frozen.append(self.stages[i])
            if hasattr(self, f'norm{i}'):
                frozen.append(getattr(self, f'norm{i}'))
        return frozen

    def _check_input(self, x: torch.Tensor) -> None:
        super()._check_input(x)
        height, width = x.shape[2:]
        if self.img_size is not None and (height, width) != self.img_size:
            raise ValueError(
                f"SepViT with window_token='per_window' takes inputs of "
                f'exactly {self.img_size[0]}x{self.img_size[1]}, got '
                f'{height}x{width}')

    def stage_outputs(self,
                      x: torch.Tensor,
                      last: Optional[int] = None) -> List[torch.Tensor]:
        """Check the input and return the NCHW output of every stage up to
        ``last`` (all by default), each after its stage's LayerNorm where the
        layout has one (every stage with ``stage_norm``, else the last); the
        outputs may be non-contiguous views."""
        self._check_input(x)
        maps = []
        for i, stage in enumerate(self.stages):
            if last is not None and i > last:
                break
            x = stage(x)
            norm = getattr(self, f'norm{i}', None)
            if norm is not None:
                x = norm(x.flatten(1, 2)).view(x.shape)
            x = x.permute(0, 3, 1, 2)
            maps.append(x)
        return maps
