"""The three networks of Stable Diffusion 1.x at tiny widths, written so that their
state_dict() names are the single-file (LDM / CompVis) checkpoint names sdc reads:

  cond_stage_model.transformer.text_model.*   CLIP text transformer (Hugging Face names)
  model.diffusion_model.*                      UNet with cross-attention (LDM openaimodel)
  first_stage_model.*                          AutoencoderKL (LDM names)

Only the computations SD 1.x inference uses are here; every rule (GroupNorm 32 groups,
epsilons, 8 UNet heads, head size 64 in the text encoder, GEGLU, quick_gelu, causal mask,
timestep embedding with cosine first) follows the real models.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

CONTEXT = 77  # tokens the text encoder sees


def group_norm(channels, eps):
    return nn.GroupNorm(32, channels, eps=eps)


# ---- text encoder ---------------------------------------------------------------------

class TextAttention(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.heads = width // 64
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask):
        B, T, W = x.shape
        h, d = self.heads, W // self.heads

        def split(t):
            return t.view(B, T, h, d).transpose(1, 2)  # [B, h, T, d]
        q = split(self.q_proj(x) * d ** -0.5)
        k, v = split(self.k_proj(x)), split(self.v_proj(x))
        a = torch.softmax(q @ k.transpose(-1, -2) + mask, dim=-1)
        return self.out_proj((a @ v).transpose(1, 2).reshape(B, T, W))


class TextMLP(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x):
        x = self.fc1(x)
        return self.fc2(x * torch.sigmoid(1.702 * x))  # quick_gelu


class TextLayer(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.self_attn = TextAttention(width)
        self.layer_norm1 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = TextMLP(width)
        self.layer_norm2 = nn.LayerNorm(width, eps=1e-5)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class TextEmbeddings(nn.Module):
    def __init__(self, vocab, width):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Embedding(CONTEXT, width)
        self.register_buffer("position_ids", torch.arange(CONTEXT).unsqueeze(0))

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding(self.position_ids)


class TextEncoderStack(nn.Module):
    def __init__(self, width, layers):
        super().__init__()
        self.layers = nn.ModuleList([TextLayer(width) for _ in range(layers)])


class TextModel(nn.Module):
    def __init__(self, vocab, width, layers):
        super().__init__()
        self.embeddings = TextEmbeddings(vocab, width)
        self.encoder = TextEncoderStack(width, layers)
        self.final_layer_norm = nn.LayerNorm(width, eps=1e-5)

    def forward(self, ids):
        """ids [B, 77] -> last hidden state after final_layer_norm [B, 77, width]."""
        x = self.embeddings(ids)
        mask = torch.full((CONTEXT, CONTEXT), float("-inf"), dtype=x.dtype).triu(1)
        for layer in self.encoder.layers:
            x = layer(x, mask)
        return self.final_layer_norm(x)


class CLIPTextTransformer(nn.Module):
    def __init__(self, vocab, width, layers):
        super().__init__()
        self.text_model = TextModel(vocab, width, layers)

    def forward(self, ids):
        return self.text_model(ids)


class FrozenCLIPEmbedder(nn.Module):
    """cond_stage_model: holds .transformer as in the LDM code."""

    def __init__(self, vocab, width=64, layers=3):
        super().__init__()
        self.transformer = CLIPTextTransformer(vocab, width, layers)

    def forward(self, ids):
        return self.transformer(ids)


# ---- UNet -----------------------------------------------------------------------------

def timestep_embedding(t, dim):
    """LDM sinusoids, cosine half first. t [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].to(freqs.dtype) * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return emb.to(t.dtype) if t.is_floating_point() else emb


class ResBlock(nn.Module):
    def __init__(self, c_in, c_out, emb_dim):
        super().__init__()
        self.in_layers = nn.Sequential(group_norm(c_in, 1e-5), nn.SiLU(),
                                       nn.Conv2d(c_in, c_out, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, c_out))
        self.out_layers = nn.Sequential(group_norm(c_out, 1e-5), nn.SiLU(), nn.Dropout(0.0),
                                        nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip_connection = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, emb, context):
        h = self.in_layers(x)
        h = h + self.emb_layers(emb)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


class CrossAttention(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(0.0))

    def forward(self, x, context=None):
        context = x if context is None else context
        B, T, C = x.shape
        h, d = self.heads, C // self.heads
        q = self.to_q(x).view(B, T, h, d).transpose(1, 2)
        k = self.to_k(context).view(B, -1, h, d).transpose(1, 2)
        v = self.to_v(context).view(B, -1, h, d).transpose(1, 2)
        a = torch.softmax((q @ k.transpose(-1, -2)) * d ** -0.5, dim=-1)
        return self.to_out((a @ v).transpose(1, 2).reshape(B, T, C))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner)

    def forward(self, x):
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim))

    def forward(self, x):
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.attn1 = CrossAttention(dim, dim, heads)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, context_dim, heads)
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.norm3 = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x, context):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """SD 1.x: GroupNorm, 1x1 conv in, one transformer block, 1x1 conv out, residual."""

    def __init__(self, c, context_dim, heads=8):
        super().__init__()
        self.norm = group_norm(c, 1e-6)
        self.proj_in = nn.Conv2d(c, c, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(c, context_dim, heads)])
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x, emb, context):
        B, C, H, W = x.shape
        h = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)  # [B, HW, C]
        for block in self.transformer_blocks:
            h = block(h, context)
        return x + self.proj_out(h.transpose(1, 2).reshape(B, C, H, W))


class Downsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.op = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x, emb, context):
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x, emb, context):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class ConvIn(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x, emb, context):
        return self.conv(x)


class Step(nn.ModuleList):
    """TimestepEmbedSequential: layers that take (x, emb, context)."""

    def forward(self, x, emb, context):
        for layer in self:
            x = layer(x, emb, context)
        return x


class UNetModel(nn.Module):
    def __init__(self, in_channels=4, model_channels=32, channel_mult=(1, 2, 2, 2),
                 num_res_blocks=2, attention_levels=(0, 1, 2), context_dim=64, heads=8):
        super().__init__()
        self.model_channels = model_channels
        emb_dim = 4 * model_channels
        self.time_embed = nn.Sequential(nn.Linear(model_channels, emb_dim), nn.SiLU(),
                                        nn.Linear(emb_dim, emb_dim))
        self.input_blocks = nn.ModuleList([Step([nn.Identity()])])
        self.input_blocks[0][0] = nn.Conv2d(in_channels, model_channels, 3, padding=1)
        skips, ch = [model_channels], model_channels
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [ResBlock(ch, mult * model_channels, emb_dim)]
                ch = mult * model_channels
                if level in attention_levels:
                    layers.append(SpatialTransformer(ch, context_dim, heads))
                self.input_blocks.append(Step(layers))
                skips.append(ch)
            if level != len(channel_mult) - 1:
                self.input_blocks.append(Step([Downsample(ch)]))
                skips.append(ch)
        self.middle_block = Step([ResBlock(ch, ch, emb_dim),
                                  SpatialTransformer(ch, context_dim, heads),
                                  ResBlock(ch, ch, emb_dim)])
        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                layers = [ResBlock(ch + skips.pop(), mult * model_channels, emb_dim)]
                ch = mult * model_channels
                if level in attention_levels:
                    layers.append(SpatialTransformer(ch, context_dim, heads))
                if level and i == num_res_blocks:
                    layers.append(Upsample(ch))
                self.output_blocks.append(Step(layers))
        self.out = nn.Sequential(group_norm(ch, 1e-5), nn.SiLU(),
                                 nn.Conv2d(ch, in_channels, 3, padding=1))

    def forward(self, x, t, context):
        emb = self.time_embed(timestep_embedding(t, self.model_channels).to(x.dtype))
        h = self.input_blocks[0][0](x)
        hs = [h]
        for block in self.input_blocks[1:]:
            h = block(h, emb, context)
            hs.append(h)
        h = self.middle_block(h, emb, context)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb, context)
        return self.out(h)


class DiffusionWrapper(nn.Module):
    """model.diffusion_model as in the LDM code."""

    def __init__(self, **kw):
        super().__init__()
        self.diffusion_model = UNetModel(**kw)

    def forward(self, x, t, context):
        return self.diffusion_model(x, t, context)


# ---- VAE ------------------------------------------------------------------------------

class VaeResnet(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.norm1 = group_norm(c_in, 1e-6)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = group_norm(c_out, 1e-6)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        if c_in != c_out:
            self.nin_shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class VaeAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = group_norm(c, 1e-6)
        self.q = nn.Conv2d(c, c, 1)
        self.k = nn.Conv2d(c, c, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.norm(x)
        q = self.q(h).flatten(2).transpose(1, 2)  # [B, HW, C]
        k = self.k(h).flatten(2)                  # [B, C, HW]
        v = self.v(h).flatten(2)
        a = torch.softmax((q @ k) * C ** -0.5, dim=-1)  # [B, HW, HW]
        o = (v @ a.transpose(1, 2)).view(B, C, H, W)
        return x + self.proj_out(o)


class VaeMid(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block_1 = VaeResnet(c, c)
        self.attn_1 = VaeAttention(c)
        self.block_2 = VaeResnet(c, c)

    def forward(self, x):
        return self.block_2(self.attn_1(self.block_1(x)))


class VaeDownsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class VaeUpsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class VaeLevel(nn.Module):
    def __init__(self, c_in, c_out, resnets, resample):
        super().__init__()
        self.block = nn.ModuleList()
        for _ in range(resnets):
            self.block.append(VaeResnet(c_in, c_out))
            c_in = c_out
        if resample == "down":
            self.downsample = VaeDownsample(c_out)
        elif resample == "up":
            self.upsample = VaeUpsample(c_out)

    def forward(self, x):
        for b in self.block:
            x = b(x)
        if hasattr(self, "downsample"):
            x = self.downsample(x)
        if hasattr(self, "upsample"):
            x = self.upsample(x)
        return x


class Encoder(nn.Module):
    def __init__(self, ch, mult, resnets, z):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.down = nn.ModuleList()
        c = ch
        for i, m in enumerate(mult):
            self.down.append(VaeLevel(c, ch * m, resnets, "down" if i < len(mult) - 1 else None))
            c = ch * m
        self.mid = VaeMid(c)
        self.norm_out = group_norm(c, 1e-6)
        self.conv_out = nn.Conv2d(c, 2 * z, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for level in self.down:
            x = level(x)
        return self.conv_out(F.silu(self.norm_out(self.mid(x))))


class Decoder(nn.Module):
    def __init__(self, ch, mult, resnets, z):
        super().__init__()
        c = ch * mult[-1]
        self.conv_in = nn.Conv2d(z, c, 3, padding=1)
        self.mid = VaeMid(c)
        levels = [None] * len(mult)
        for i in reversed(range(len(mult))):
            levels[i] = VaeLevel(c, ch * mult[i], resnets + 1, "up" if i > 0 else None)
            c = ch * mult[i]
        self.up = nn.ModuleList(levels)
        self.norm_out = group_norm(c, 1e-6)
        self.conv_out = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, z):
        x = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            x = level(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, ch=32, mult=(1, 1, 2, 2), resnets=1, z=4):
        super().__init__()
        self.encoder = Encoder(ch, mult, resnets, z)
        self.decoder = Decoder(ch, mult, resnets, z)
        self.quant_conv = nn.Conv2d(2 * z, 2 * z, 1)
        self.post_quant_conv = nn.Conv2d(z, z, 1)

    def encode(self, x):
        """image [-1, 1] -> (mean, logvar) of the posterior, each [B, z, H/8, W/8]."""
        mean, logvar = self.quant_conv(self.encoder(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


class LatentDiffusion(nn.Module):
    """The whole single-file checkpoint: names match the LDM state dict."""

    def __init__(self, vocab, text_width=64, text_layers=3, unet=None, vae=None):
        super().__init__()
        self.model = DiffusionWrapper(context_dim=text_width, **(unet or {}))
        self.first_stage_model = AutoencoderKL(**(vae or {}))
        self.cond_stage_model = FrozenCLIPEmbedder(vocab, text_width, text_layers)
