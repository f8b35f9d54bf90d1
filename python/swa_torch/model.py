"""A small transformer whose attention is a function you pass in: the kit's stage, or FlexAttention.

    model = TinyTransformer(dim=512, heads=8, layers=2).cuda().half().eval()
    y = model(x, attend)          # x [B, N, dim]; attend(q, k, v) -> O, all [B, H, N, D]

Random weights (seeded): the point is the same network with two attention implementations, not a
trained model. Pre-norm blocks: x + attention(norm(x)), then x + mlp(norm(x)).
"""

import torch
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"dim = {dim} must be a multiple of heads = {heads}")
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(self, x, attend):
        B, N, C = x.shape
        # [B, N, 3, H, D] -> [3, B, H, N, D], made contiguous once: each of q, k, v is then a contiguous
        # [B, H, N, D] slice starting on a 16-byte boundary, as the kit's stages want.
        qkv = self.qkv(x).view(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).contiguous()
        o = attend(qkv[0], qkv[1], qkv[2])  # [B, H, N, D]
        return self.out(o.to(x.dtype).transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x, attend):
        x = x + self.attention(self.norm1(x), attend)
        return x + self.mlp(self.norm2(x))


class TinyTransformer(nn.Module):
    def __init__(self, dim=512, heads=8, layers=2, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x, attend):
        for block in self.blocks:
            x = block(x, attend)
        return self.norm(x)
