"""The paper-form SepViT block: the reference the fast path is held equal to.

Every step of ``../shared/SEPVIT.md`` ("DSSA, step by step") in plain
PyTorch ops, in the order the released code runs them, on the weights of a
:class:`mmsepvit.models.backbones.sepvit.SepViTBlock`. The block itself
normalises before padding, writes windows in one pass and has hand-written
backwards; ``tests/test_fast_path.py`` checks its outputs and gradients
against :func:`reference_block`.
"""
import torch
import torch.nn.functional as F


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
           head_dims: int) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v."""
    weights = (q @ k.transpose(-2, -1) * head_dims**-0.5).softmax(-1)
    return weights @ v


def drop_path(block, branch: torch.Tensor) -> torch.Tensor:
    """Stochastic depth as mmcv's ``DropPath``: drop a sample's branch with
    the block's probability, scale kept ones up."""
    drop_prob = block.drop_path.drop_prob
    if not block.training or drop_prob == 0:
        return branch
    keep = 1 - drop_prob
    mask = (keep + torch.rand(branch.shape[0], 1, 1, 1)).floor()
    return branch.div(keep) * mask


def dssa(block, x: torch.Tensor) -> torch.Tensor:
    """Depthwise separable self-attention of a (B, H, W, C) map, steps 1-6."""
    attn, ws = block.attn, block.window_size
    B, H, W, C = x.shape
    heads, head_dims = attn.num_heads, attn.head_dims

    # 1. Pad with zeros to whole windows; split, windows and pixels in
    # row-major order.
    padded = F.pad(x, (0, 0, 0, (-W) % ws, 0, (-H) % ws))
    Hp, Wp = padded.shape[1:3]
    windows = padded.view(B, Hp // ws, ws, Wp // ws, ws,
                          C).transpose(2, 3).reshape(B, -1, ws * ws, C)
    nW = windows.shape[1]

    # 2. Prepend the window tokens, then the block's first LayerNorm.
    if attn.pointwise:
        token = (
            torch.zeros(B, nW, 1, C) if block.window_token is None else
            block.window_token.expand(B, nW, 1, C))
        windows = torch.cat([token, windows], 2)
    windows = block.norm1(windows)
    T = windows.shape[2]

    # 3. Depthwise attention inside each window, plus the normed windows.
    q, k, v = attn.qkv(windows).reshape(B, nW, T, 3, heads,
                                        head_dims).permute(3, 0, 1, 4, 2, 5)
    out = attend(q, k, v, head_dims).permute(0, 1, 3, 2,
                                             4).reshape(B, nW, T, C)
    out = out + windows

    if attn.pointwise:
        # 4. Split the window tokens from the pixel features.
        tokens, pixels = out[:, :, 0], out[:, :, 1:]
        # 5. Pointwise attention across windows; per head, a window's
        # pixels are one value vector. Plus the pixel features.
        q, k = attn.token_qk(attn.token_act(attn.token_norm(tokens))).reshape(
            B, nW, 2, heads, head_dims).permute(2, 0, 3, 1, 4)
        v = pixels.reshape(B, nW, T - 1, heads,
                           head_dims).permute(0, 3, 1, 2,
                                              4).reshape(B, heads, nW, -1)
        out = attend(q, k, v, head_dims).reshape(
            B, heads, nW, T - 1, head_dims).permute(0, 2, 3, 1, 4).reshape(
                B, nW, T - 1, C) + pixels

    # 6. Merge the windows, crop the padding, output projection.
    out = out.view(B, Hp // ws, Wp // ws, ws, ws,
                   C).transpose(2, 3).reshape(B, Hp, Wp, C)[:, :H, :W]
    return attn.proj(out)


def reference_block(block, x: torch.Tensor) -> torch.Tensor:
    """A pre-norm SepViT block on a channels-last (B, H, W, C) map:
    ``x + DropPath(DSSA(x))``, then ``x + DropPath(MLP(LN(x)))``."""
    x = x + drop_path(block, dssa(block, x))
    hidden = F.gelu(block.mlp.fc1(block.norm2(x)))
    return x + drop_path(block, block.mlp.fc2(hidden))
