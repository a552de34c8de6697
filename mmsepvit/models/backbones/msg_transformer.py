# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""MSG-Transformer: Exchanging Local Spatial Information by Manipulating
Messenger Tokens.

Fang et al., CVPR 2022, https://arxiv.org/abs/2105.15168
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import constant_init, trunc_normal_init

from mmsepvit.models.layers import (linear, project_heads, window_merge,
                                    window_partition)
from mmsepvit.models.layers.dispatch import tracing
from mmsepvit.registry import register_model
from mmsepvit.utils import check_state_dict
from .base_backbone import MultiStageBackbone

# Every LayerNorm of the release keeps PyTorch's default eps.
NORM_EPS = 1e-5
# The release's window; fixed so that table shapes do not depend on the input.
WINDOW_SIZE = 7
OUT_TYPES = ('pixels', 'msg')


def _ceil_div(size: int, divisor: int) -> int:
    # Non-negative operands: ONNX exports floor division as truncation.
    return (size + divisor - 1) // divisor


def _to_regions(x: torch.Tensor, region_size: int,
                window_size: int) -> torch.Tensor:
    """(B, H, W, C) map of whole regions -> (B, regions, windows, pixels, C):
    regions row-major, windows row-major in a region, pixels row-major in a
    window (the release's token order)."""
    B, H, W, C = x.shape
    side = region_size * window_size
    if tracing():
        # Windows of windows: transposes of at most four dimensions, which
        # the runtimes run on their fast kernels.
        fill = x.new_zeros(C)
        regions = window_partition(x, side, fill)
        windows = window_partition(
            regions.view(-1, side, side, C), window_size, fill)
        return windows.view(B, -1, region_size**2, window_size**2, C)
    x = x.view(B, H // side, region_size, window_size, W // side, region_size,
               window_size, C)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(B, -1, region_size**2,
                                                     window_size**2, C)


def _from_regions(x: torch.Tensor, height: int, width: int, region_size: int,
                  window_size: int) -> torch.Tensor:
    """Inverse of :func:`_to_regions`: (B, H, W, C), a view where it can."""
    B, C = x.shape[0], x.shape[-1]
    side = region_size * window_size
    if tracing():
        regions = window_merge(
            x.reshape(-1, region_size**2, window_size**2, C), side, side,
            window_size)
        return window_merge(
            regions.view(B, -1, side * side, C), height, width, side)
    x = x.view(B, height // side, width // side, region_size, region_size,
               window_size, window_size, C)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(B, height, width, C)


def msg_shuffle(msg: torch.Tensor) -> torch.Tensor:
    """Exchange channel groups among the G messenger tokens of each region.

    Each token is cut into G groups of C/G channels; new token i is the
    concatenation over j of old token j's group i. A transpose, so applying
    it twice is the identity, as is G = 1.

    Args:
        msg (Tensor): (..., G, C), C divisible by G.
    """
    groups, C = msg.shape[-2:]
    if groups == 1:
        return msg
    x = msg.reshape(-1, groups, groups, C // groups).transpose(1, 2)
    return x.reshape(msg.shape)


class Mlp(BaseModule):
    """Linear, GELU (exact), linear."""

    def __init__(self,
                 embed_dims: int,
                 hidden_dims: int,
                 drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(linear(x, self.fc1, gelu=True))
        return self.drop(linear(x, self.fc2))


class MSGAttention(BaseModule):
    """Multi-head self-attention in a window of one messenger (MSG) token and
    ``window_size**2`` pixels.

    Before the softmax it adds Swin's relative position bias between pixels
    and ``rel_pos_msg``: ``[h, 0]`` to every pixel query's score of the MSG
    key, ``[h, 1]`` to every score of the MSG query (its own included).

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        window_size (int): Window side in pixels.
        attn_drop (float): Dropout on attention weights.
        proj_drop (float): Dropout after the output projection.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int = WINDOW_SIZE,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.attn_drop = attn_drop
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        self.rel_pos_msg = nn.Parameter(torch.zeros(num_heads, 2, 1, 1))
        # Constant for the fixed window; not saved with the weights.
        coords = torch.stack(
            torch.meshgrid(
                torch.arange(window_size),
                torch.arange(window_size),
                indexing='ij')).flatten(1)
        rel = coords[:, :, None] - coords[:, None, :] + window_size - 1
        self.register_buffer(
            'relative_position_index',
            rel[0] * (2 * window_size - 1) + rel[1],
            persistent=False)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def attention_bias(self) -> torch.Tensor:
        """The (heads, 1 + P, 1 + P) bias added to the scores, MSG first."""
        heads, pixels = self.num_heads, self.window_size**2
        pixel_bias = self.relative_position_bias_table[
            self.relative_position_index.flatten()].view(
                pixels, pixels, heads).permute(2, 0, 1)
        to_msg = self.rel_pos_msg[:, 0].expand(heads, pixels, 1)
        from_msg = self.rel_pos_msg[:, 1].expand(heads, 1, pixels + 1)
        return torch.cat([from_msg, torch.cat([to_msg, pixel_bias], 2)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1 + P, C) windows in and out, the MSG token first."""
        N, T, C = x.shape
        q, k, v = project_heads(x, self.qkv, self.num_heads)
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=self.attention_bias().to(q.dtype),
            dropout_p=self.attn_drop if self.training else 0.)
        x = x.transpose(1, 2).reshape(N, T, C)
        return self.proj_drop(linear(x, self.proj))


class MSGBlock(BaseModule):
    """A pre-norm MSG-Transformer block on a stage's windows.

    ``x += DP(Attn(LN1(x)))`` in every window of one MSG token and its
    pixels; then the MSG shuffle among each region's tokens; then
    ``x += DP(MLP(LN2(x)))`` on every token. MSG tokens and pixels are held
    apart (the shuffle then moves only the tokens) and joined only as the
    attention's input.

    Stochastic depth drops per image and region, the samples of the
    release's (B x regions, windows, tokens, C) layout.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden size over ``embed_dims``.
        drop_rate (float): Dropout after the projections.
        attn_drop_rate (float): Dropout on attention weights.
        drop_path_rate (float): Stochastic depth of this block.
        with_cp (bool): Recompute the block in backward to save memory.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.drop_path_rate = drop_path_rate
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(embed_dims, eps=NORM_EPS)
        self.attn = MSGAttention(
            embed_dims,
            num_heads,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate)
        self.norm2 = nn.LayerNorm(embed_dims, eps=NORM_EPS)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), drop_rate)

    def _residual(
            self, msg: torch.Tensor, pixels: torch.Tensor,
            msg_branch: torch.Tensor,
            pixel_branch: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Residual sums with stochastic depth, one draw per image and
        region shared by the region's tokens and pixels."""
        if not self.training or self.drop_path_rate == 0.:
            return msg + msg_branch, pixels + pixel_branch
        keep_prob = 1 - self.drop_path_rate
        keep = (keep_prob + torch.rand(
            msg.shape[:2], dtype=msg.dtype, device=msg.device)).floor_()
        keep = keep.div_(keep_prob)
        return (torch.addcmul(msg, msg_branch, keep[:, :, None, None]),
                torch.addcmul(pixels, pixel_branch, keep[:, :, None, None,
                                                         None]))

    def _forward(self, msg: torch.Tensor,
                 pixels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        B, regions, windows, num_pixels, C = pixels.shape
        x = torch.cat([self.norm1(msg).unsqueeze(3), self.norm1(pixels)], 3)
        x = self.attn(x.view(-1, 1 + num_pixels,
                             C)).view(B, regions, windows, 1 + num_pixels, C)
        msg_branch, pixel_branch = x[:, :, :, 0], x[:, :, :, 1:]
        msg, pixels = self._residual(msg, pixels, msg_branch, pixel_branch)
        msg = msg_shuffle(msg)
        return self._residual(msg, pixels, self.mlp(self.norm2(msg)),
                              self.mlp(self.norm2(pixels)))

    def forward(self, msg: torch.Tensor,
                pixels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """MSG tokens (B, regions, G, C) and pixels (B, regions, G, P, C) in
        and out."""
        if self.with_cp and (msg.requires_grad or pixels.requires_grad):
            return cp.checkpoint(
                self._forward, msg, pixels, use_reentrant=False)
        return self._forward(msg, pixels)


class PatchMerging(BaseModule):
    """Conv3x3 stride 2 (padding 1), then LayerNorm; the same weights merge
    the pixel map and the MSG-token map."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.reduction = nn.Conv2d(
            in_channels, out_channels, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(out_channels, eps=NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Channels-last (B, H, W, C) in, (B, H/2, W/2, C') out."""
        x = self.reduction(x.permute(0, 3, 1, 2))
        return self.norm(x.permute(0, 2, 3, 1))


class PatchEmbed(BaseModule):
    """Conv7x7 stride 4 padding 2, then LayerNorm."""

    def __init__(self, in_channels: int, embed_dims: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(
            in_channels, embed_dims, 7, stride=4, padding=2)
        self.norm = nn.LayerNorm(embed_dims, eps=NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """NCHW in, channels-last (B, H/4, W/4, C) out."""
        return self.norm(self.projection(x).permute(0, 2, 3, 1))


class MSGStage(BaseModule):
    """The blocks of one stage, on whole regions of ``region_size`` windows
    per side, and the merging that follows them (None in the last stage).
    """

    def __init__(self, region_size: int, blocks: List[dict],
                 downsample: Optional[Tuple[int, int]]) -> None:
        super().__init__()
        self.region_size = region_size
        self.blocks = ModuleList([MSGBlock(**cfg) for cfg in blocks])
        self.downsample = (None if downsample is None else PatchMerging(
            *downsample))

    def forward(self, pixels: torch.Tensor,
                msg: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The pixel map (B, H, W, C) and the MSG-token map on the window
        grid (B, H/ws, W/ws, C), both of whole regions; the same maps after
        the last block."""
        H, W = pixels.shape[1:3]
        r = self.region_size
        pixels = _to_regions(pixels, r, WINDOW_SIZE)
        msg = _to_regions(msg, r, 1).squeeze(3)
        for block in self.blocks:
            msg, pixels = block(msg, pixels)
        return (_from_regions(pixels, H, W, r, WINDOW_SIZE),
                _from_regions(
                    msg.unsqueeze(3), H // WINDOW_SIZE, W // WINDOW_SIZE, r,
                    1))


@register_model()
class MSGTransformer(MultiStageBackbone):
    """MSG-Transformer backbone: `MSG-Transformer: Exchanging Local Spatial
    Information by Manipulating Messenger Tokens
    <https://arxiv.org/abs/2105.15168>`_.

    Four stages (strides 4, 8, 16, 32) of window attention (windows of 7x7
    pixels) in which each window carries one messenger (MSG) token; windows
    are grouped into regions of 4, 4, 2, 1 windows per side, and after each
    attention the MSG tokens of a region exchange channel groups (the MSG
    shuffle). Merging (a 3x3 stride-2 conv and LayerNorm) downsamples the
    pixel map and, with the same weights, the map of MSG tokens on the window
    grid, which becomes the next stage's MSG tokens. Stage 1's MSG tokens are
    the parameter ``msg_tokens``, one per window position in a region.

    **Input sizes.** The release runs only on multiples of 224 pixels, where
    every stage splits into whole regions (e.g. 224 = 2 x 4 x 7 x 4 pixels in
    stage 1, 1 x 2 x 7 x 16 in stage 3). Here any input of at least 32 pixels
    is padded with zeros at the bottom and right to the next multiple of
    ``pad_multiple`` (224 for the zoo archs), run as the release runs it, and
    every output is cropped to the real image: ``ceil(H / stride)`` pixels,
    ``ceil(ceil(H / stride) / 7)`` windows. Outputs on the real image are
    exactly the release's on the zero-padded image, and equal to the
    release's outputs wherever it runs. The cost is the padded area: 13%
    more at 800x1333 (896x1344), 72% more at 512x512 (672x672). Padding each
    stage to whole regions instead, with padded pixels masked out of
    attention, would save nothing past stage 1: regions of stages 2-4 span
    224 input pixels anyway. It would add masks and padded windows' MSG
    tokens (which the shuffle carries into real windows) that no checkpoint
    was trained with. The window stays 7 at every size (no shrinking), so
    the weights fit every input.

    **Outputs.** With ``out_type='pixels'`` (default) the pixel maps after
    each stage's last block, before merging, NCHW. ``out_type='msg'`` gives
    the MSG tokens of the same point as NCHW maps on the window grid. An
    output norm (``final_norm``, the release classifier's LayerNorm on the
    last stage) is off by default; the dense outputs of the release have
    none.

    **Classifier.** ``out_type='msg'``, ``final_norm=True``,
    ``out_indices=(3, )`` with mmpretrain's ``GlobalAveragePooling`` and
    ``LinearClsHead`` is the release classifier at 224x224, where stage 4
    has a single MSG token. At other sizes it averages the stage-4 MSG
    tokens (each of them sees real pixels), where the release returns one
    row per token.

    Args:
        arch (str | dict): 'tiny' ('t'), 'small' ('s'), 'base' ('b'), or a
            dict with exactly the keys ``embed_dims``, ``num_heads``,
            ``depths`` and ``region_sizes`` (the release's
            ``shuffle_size``, windows per region side), one entry per stage.
            Each stage's channels must divide by its region's window count.
        in_channels (int): Input image channels. Defaults to 3.
        mlp_ratio (float): MLP hidden size over channels. Defaults to 4.
        drop_rate (float): Dropout after projections. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly from 0 over
            all blocks to this value. Defaults to 0.1.
        out_indices (Sequence[int] | int): Stages whose outputs are returned;
            negative indices count from the end. Defaults to (0, 1, 2, 3).
        out_type (str): 'pixels' or 'msg', see above. Defaults to 'pixels'.
        final_norm (bool): LayerNorm (``norm``) on the last stage's output.
            Defaults to False.
        frozen_stages (int): -1 freezes nothing, 0 the patch embedding and
            ``msg_tokens``, k >= 1 also stages 1..k with the merging after
            them (and ``norm`` with the last stage). Defaults to -1.
        norm_eval (bool): Accepted so that configs written for BatchNorm
            backbones work unchanged; MSG-Transformer has LayerNorms only,
            which keep no statistics: it changes nothing. Defaults to False.
        with_cp (bool): Non-reentrant activation checkpointing of each block.
            Defaults to False.
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict | list[dict], optional): Initialisation config. With
            ``type='Pretrained'`` (optionally ``prefix='backbone.'``) every
            weight must be found in the checkpoint with the right shape, and
            nothing unexpected may be left over.

    Example:
        >>> import torch
        >>> from mmsepvit.models.backbones import MSGTransformer
        >>> model = MSGTransformer(arch='tiny').eval()
        >>> outs = model(torch.rand(1, 3, 200, 300))
        >>> [tuple(out.shape) for out in outs]
        [(1, 64, 50, 75), (1, 128, 25, 38), (1, 256, 13, 19), (1, 512, 7, 10)]
    """
    _tiny = dict(
        embed_dims=[64, 128, 256, 512],
        num_heads=[2, 4, 8, 16],
        depths=[2, 4, 12, 4],
        region_sizes=[4, 4, 2, 1])
    _small = dict(
        _tiny, embed_dims=[96, 192, 384, 768], num_heads=[3, 6, 12, 24])
    _base = dict(_small, depths=[2, 4, 28, 4])
    arch_zoo: Dict[str, dict] = {
        **dict.fromkeys(['t', 'tiny'], _tiny),
        **dict.fromkeys(['s', 'small'], _small),
        **dict.fromkeys(['b', 'base'], _base),
    }
    arch_keys = ('embed_dims', 'num_heads', 'depths', 'region_sizes')

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 mlp_ratio: float = 4.,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 out_type: str = 'pixels',
                 final_norm: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg, pretrained=pretrained)
        self.arch_settings = self.parse_arch(arch)
        embed_dims = self.arch_settings['embed_dims']
        region_sizes = self.arch_settings['region_sizes']
        depths = self.arch_settings['depths']
        self.strides = tuple(4 * 2**i for i in range(len(embed_dims)))
        self.min_input_size = 32
        self.in_channels = in_channels
        # Zero-padding the input to a multiple of every stage's region side
        # (in input pixels) makes every stage whole regions.
        self.pad_multiple = math.lcm(
            *(stride * WINDOW_SIZE * r
              for stride, r in zip(self.strides, region_sizes)))
        if out_type not in OUT_TYPES:
            raise ValueError(f'MSGTransformer: unknown out_type {out_type!r}; '
                             f'choose one of {list(OUT_TYPES)}')
        self.out_type = out_type
        self.out_indices = self.check_out_indices(out_indices, self.num_stages)
        self.frozen_stages = self.check_frozen_stages(frozen_stages,
                                                      self.num_stages)
        self.norm_eval = norm_eval
        self.check_drop_path_rate(drop_path_rate)

        self.patch_embed = PatchEmbed(in_channels, embed_dims[0])
        self.msg_tokens = nn.Parameter(
            torch.zeros(1, region_sizes[0]**2, 1, embed_dims[0]))
        drop_path_rates = torch.linspace(
            0, drop_path_rate, sum(depths), device='cpu').tolist()
        self.stages = ModuleList()
        for i in range(self.num_stages):
            blocks = [
                dict(
                    embed_dims=embed_dims[i],
                    num_heads=self.arch_settings['num_heads'][i],
                    mlp_ratio=mlp_ratio,
                    drop_rate=drop_rate,
                    attn_drop_rate=attn_drop_rate,
                    drop_path_rate=drop_path_rates[sum(depths[:i]) + j],
                    with_cp=with_cp) for j in range(depths[i])
            ]
            last = i == self.num_stages - 1
            self.stages.append(
                MSGStage(region_sizes[i], blocks, None if last else
                         (embed_dims[i], embed_dims[i + 1])))
        self.final_norm = final_norm
        if final_norm:
            self.norm = nn.LayerNorm(embed_dims[-1], eps=NORM_EPS)
        # Frozen from the start: a DDP wrapper made before train() must not
        # wait for gradients of frozen weights.
        self._freeze_stages()

    def _check_arch(self, arch: dict) -> None:
        super()._check_arch(arch)
        for i, (dims, depth, r) in enumerate(
                zip(arch['embed_dims'], arch['depths'], arch['region_sizes'])):
            if not isinstance(depth, int) or depth < 1:
                raise ValueError(f'MSGTransformer: stage {i} depth must be a '
                                 f'positive integer, got {depth}')
            if not isinstance(r, int) or r < 1:
                raise ValueError(f'MSGTransformer: stage {i} region size must '
                                 f'be a positive integer, got {r}')
            if dims % (r * r):
                raise ValueError(
                    f'MSGTransformer: stage {i} embed_dims {dims} is not '
                    f'divisible by its {r * r} MSG tokens per region (region '
                    f'size {r}), which the MSG shuffle splits it among')

    def _init_released(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.02, bias=0.)
            elif isinstance(m, nn.LayerNorm):
                constant_init(m, val=1., bias=0.)
            elif isinstance(m, nn.Conv2d):
                m.reset_parameters()  # PyTorch's default, as released
            elif isinstance(m, MSGAttention):
                nn.init.trunc_normal_(m.relative_position_bias_table, std=.02)
                nn.init.trunc_normal_(m.rel_pos_msg, std=.02)
        nn.init.trunc_normal_(self.msg_tokens, std=.02)

    def transfer_state_dict(self, state_dict: Dict[str, torch.Tensor],
                            source: str) -> Dict[str, torch.Tensor]:
        """The weights of ``state_dict``, each checked. Without
        ``final_norm`` a classifier's final norm (``norm.*``) is dropped, so
        ImageNet checkpoints initialise the dense backbone.

        Raises:
            ValueError: Keys missing, unexpected or mis-shaped, all listed;
                for a checkpoint in the release's layout, how to convert it.
        """
        if 'msg_tokens' in state_dict and any(
                k.startswith('layers.') for k in state_dict):
            raise ValueError(
                f"{source} is in the layout of the authors' released "
                'MSG-Transformer code: convert it with '
                'tools/model_converters/msg2mmsepvit.py first')
        if not self.final_norm and {'norm.weight', 'norm.bias'
                                    } <= set(state_dict):
            state_dict = {
                k: v
                for k, v in state_dict.items()
                if k not in ('norm.weight', 'norm.bias')
            }
            MMLogger.get_current_instance().info(
                f'MSGTransformer: dropped the final norm of {source} '
                '(final_norm=False)')
        check_state_dict(state_dict, self, source)
        return state_dict

    def frozen_modules(self) -> List[nn.Module]:
        frozen = []
        if self.frozen_stages >= 0:
            frozen.append(self.patch_embed)
        frozen.extend(self.stages[:max(self.frozen_stages, 0)])
        if self.final_norm and self.frozen_stages == self.num_stages:
            frozen.append(self.norm)
        return frozen

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        if self.frozen_stages >= 0:
            self.msg_tokens.requires_grad = False

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        m = self.pad_multiple
        H, W = x.shape[2:]
        return F.pad(x, (0, (-W) % m, 0, (-H) % m))

    def stage_outputs(self,
                      x: torch.Tensor,
                      last: Optional[int] = None) -> List[torch.Tensor]:
        """Check the input and return the NCHW output of every stage up to
        ``last`` (all by default): pixel maps or MSG-token maps
        (``out_type``), cropped to the real image; ``norm`` on the last
        stage's with ``final_norm``. The outputs may be non-contiguous
        views."""
        self._check_input(x)
        H, W = x.shape[2:]
        last = self.num_stages - 1 if last is None else last
        pixels = self.patch_embed(self._pad(x))
        B, _, _, C = pixels.shape
        grid = (pixels.shape[1] // WINDOW_SIZE, pixels.shape[2] // WINDOW_SIZE)
        # Stage 1's tokens: the same r x r for every region, by position.
        r = self.stages[0].region_size
        msg = self.msg_tokens.view(1, 1, r, 1, r,
                                   C).expand(B, grid[0] // r, r, grid[1] // r,
                                             r, C).reshape(B, *grid, C)
        maps = []
        for i, stage in enumerate(self.stages[:last + 1]):
            pixels, msg = stage(pixels, msg)
            out = pixels if self.out_type == 'pixels' else msg
            if self.final_norm and i == self.num_stages - 1:
                out = self.norm(out)
            # Integer ceilings keep traced and exported sizes symbolic.
            h, w = (_ceil_div(s, self.strides[i]) for s in (H, W))
            if self.out_type == 'msg':
                h, w = _ceil_div(h, WINDOW_SIZE), _ceil_div(w, WINDOW_SIZE)
            maps.append(out[:, :h, :w].permute(0, 3, 1, 2))
            if stage.downsample is not None and i < last:
                pixels = stage.downsample(pixels)
                msg = stage.downsample(msg)
        return maps
