"""SD 1.x's training noise schedule and a DDIM sampler that does what diffusers' DDIMScheduler
(steps_offset 1, "leading" spacing, set_alpha_to_one False, eta 0) and
StableDiffusionPipeline do: the reference the C program is compared with."""
import numpy as np
import torch

TRAIN_STEPS = 1000
SCALING = 0.18215  # SD 1.x latent scaling factor (what sdc assumes for single files)


def alphas_cumprod(dtype=torch.float32):
    """scaled_linear betas 0.00085 .. 0.012 over 1000 steps, computed as diffusers does
    (float32 linspace of the square roots, squared, cumulative product)."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, TRAIN_STEPS, dtype=torch.float32) ** 2
    return torch.cumprod(1.0 - betas, dim=0).to(dtype)


def ddim_timesteps(steps):
    ratio = TRAIN_STEPS // steps
    return (np.arange(0, steps) * ratio).round()[::-1].astype(np.int64) + 1


@torch.no_grad()
def txt2img_ddim(model, ids_cond, ids_uncond, seed, steps, cfg, size=64, dtype=torch.float32):
    """Final latent [1, 4, size/8, size/8] and decoded image [1, 3, size, size] in [-1, 1]
    (before clamping) of one DDIM run; the initial noise is torch.randn after
    torch.manual_seed(seed), as diffusers draws it on the CPU."""
    gen = torch.Generator().manual_seed(seed)
    latent = torch.randn((1, 4, size // 8, size // 8), generator=gen, dtype=torch.float32)
    latent = latent.to(dtype)
    text = model.cond_stage_model
    context = torch.cat([text(ids_uncond), text(ids_cond)]).to(dtype)
    unet = model.model.diffusion_model
    ac = alphas_cumprod(torch.float32)
    ratio = TRAIN_STEPS // steps
    for t in ddim_timesteps(steps):
        out = unet(torch.cat([latent, latent]), torch.tensor([t, t]), context)
        uncond, cond = out.chunk(2)
        eps = uncond + cfg * (cond - uncond)
        prev = t - ratio
        a_t = ac[t].to(dtype)
        a_prev = (ac[prev] if prev >= 0 else ac[0]).to(dtype)
        x0 = (latent - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        latent = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    image = model.first_stage_model.decode(latent / SCALING)
    return latent, image


def to_u8(image):
    """[1, 3, H, W] in [-1, 1] -> uint8 [H, W, 3], rounded as diffusers' postprocessing."""
    x = ((image[0].double() / 2 + 0.5).clamp(0, 1) * 255).round()
    return x.permute(1, 2, 0).to(torch.uint8).numpy()


@torch.no_grad()
def sample_batch(model, ids, gen, steps=20, cfg=5.0, uncond_ids=None):
    """Quick DDIM previews for a batch of prompts ([B, 77] ids) -> uint8 [B, 64, 64, 3]."""
    B = ids.shape[0]
    latent = torch.randn((B, 4, 8, 8), generator=gen)
    text = model.cond_stage_model
    context = torch.cat([text(uncond_ids.expand(B, -1)), text(ids)])
    unet = model.model.diffusion_model
    ac = alphas_cumprod()
    ratio = TRAIN_STEPS // steps
    for t in ddim_timesteps(steps):
        out = unet(torch.cat([latent, latent]), torch.full((2 * B,), int(t)), context)
        uncond, cond = out.chunk(2)
        eps = uncond + cfg * (cond - uncond)
        prev = t - ratio
        a_t, a_prev = ac[t], (ac[prev] if prev >= 0 else ac[0])
        x0 = (latent - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        latent = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    image = model.first_stage_model.decode(latent / SCALING)
    x = ((image / 2 + 0.5).clamp(0, 1) * 255).round()
    return x.permute(0, 2, 3, 1).to(torch.uint8).numpy()
