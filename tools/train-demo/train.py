#!/usr/bin/python3
"""Trains sdc's built-in demo model and writes everything the repository ships with it.

    nice -n 10 /usr/bin/python3 tools/train-demo/train.py

Outputs (paths relative to the repository root):
    models/demo/model.safetensors        the SD 1.x single-file checkpoint (F16)
    models/demo/vocab.json, merges.txt,  its CLIP-format tokenizer
    models/demo/special_tokens_map.json
    tests/demo/prompts.tsv               held-out and seen test prompts with their attributes
    tests/demo/renders.png, renders.tsv  ground-truth renders for the analysis ceiling
    tests/demo/reference.safetensors,    PyTorch DDIM run the C program must reproduce
    tests/demo/reference.json
    tools/train-demo/work/               log, previews, intermediate state (not committed)

Deterministic: fixed thread counts and seeds; the same machine and software give the same bytes.
See docs/demo.md.
"""
import argparse
import json
import math
import os
import sys
import time

# Fixed thread counts keep the arithmetic order, and so the result, fixed: two threads for
# the VAE (64x64 pictures), one for the UNet stage, whose 8x8 tensors are too small for a
# second thread to pay (it runs 2.7x slower with two). Set before OpenBLAS loads.
VAE_THREADS, UNET_THREADS = 2, 1
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(VAE_THREADS))
os.environ.setdefault("OMP_NUM_THREADS", str(VAE_THREADS))

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import checkpoint  # noqa: E402
import nets  # noqa: E402
import pngfile  # noqa: E402
import sampling  # noqa: E402
import scenes  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
UNET = dict(model_channels=64, channel_mult=(1, 1, 1, 1), num_res_blocks=1,
            attention_levels=(1, 2))
# 64 channels everywhere (UNet and VAE): GroupNorm has 32 groups, and at 32 channels it would
# normalise every channel on its own, which wipes out the absolute colour of flat pictures.
VAE = dict(ch=32, mult=(2, 2, 2, 2), resnets=1)
TEXT = dict(text_width=64, text_layers=3)
UNET_LR = 1e-3
MIN_SNR_GAMMA = 5.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--images", type=int, default=12000, help="training pictures rendered")
    p.add_argument("--vae-crop-steps", type=int, default=3500, help="VAE steps on 32x32 crops")
    p.add_argument("--vae-full-steps", type=int, default=50, help="VAE steps on whole pictures")
    p.add_argument("--unet-steps", type=int, default=6000, help="UNet + text encoder steps")
    p.add_argument("--batch", type=int, default=32, help="UNet batch size")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--work", default=os.path.join(ROOT, "tools", "train-demo", "work"))
    p.add_argument("--models", default=os.path.join(ROOT, "models", "demo"))
    p.add_argument("--tests", default=os.path.join(ROOT, "tests", "demo"))
    p.add_argument("--reuse-vae", action="store_true",
                   help="take the VAE of an earlier run (work/vae.safetensors) if there is one")
    p.add_argument("--test-material-only", action="store_true",
                   help="only rewrite the test material from the existing checkpoint")
    return p.parse_args()


class Log:
    def __init__(self, path):
        self.f = open(path, "w")
        self.t0 = time.time()
        self.c0 = time.process_time()

    def __call__(self, msg):
        line = (f"[{time.time() - self.t0:7.0f}s wall {time.process_time() - self.c0:7.0f}s cpu] "
                f"{msg}")
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()


def lr_at(step, total, peak, warmup=100):
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def to_pixels(u8):
    """uint8 [N, H, W, 3] -> float [N, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(u8).permute(0, 3, 1, 2).float() / 127.5 - 1.0


# ---- VAE ------------------------------------------------------------------------------

def train_vae(vae, pics, args, log):
    """Reconstruction (L1 + 4 MSE, object pixels weighted 5x: they are a few percent of a
    picture but all of its meaning) of a posterior sample, plus a small KL term. The
    posterior starts narrow (std 0.05) so samples stay close to the mean."""
    with torch.no_grad():
        vae.quant_conv.bias[4:] = -6.0
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    rng = np.random.default_rng(args.seed + 1)
    objects = np.any(pics != pics[:, :1, :1], axis=-1)  # corners are always background
    total = args.vae_crop_steps + args.vae_full_steps
    for step in range(total):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, 1e-3)
        idx = rng.integers(0, len(pics), 16)
        if step < args.vae_crop_steps:  # 32x32 crops on the 8-pixel latent grid
            oy, ox = rng.integers(0, 5, 2) * 8
            crop = (idx, slice(oy, oy + 32), slice(ox, ox + 32))
        else:
            crop = (idx, slice(None), slice(None))
        x = to_pixels(pics[crop])
        weight = 1.0 + 4.0 * torch.from_numpy(objects[crop]).float()[:, None]
        mean, logvar = vae.encode(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        y = vae.decode(z)
        rec = (weight * ((y - x).abs() + 4 * (y - x).pow(2))).mean()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = rec + 1e-6 * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == total - 1:
            log(f"vae step {step}/{total} rec {rec.item():.4f} kl {kl.item():.2f} "
                f"std {torch.exp(0.5 * logvar).mean().item():.3f}")


@torch.no_grad()
def encode_all(vae, pics):
    """Posterior mean and std of every picture: float32 [N, 4, 8, 8] each."""
    means, stds = [], []
    for i in range(0, len(pics), 64):
        mean, logvar = vae.encode(to_pixels(pics[i:i + 64]))
        means.append(mean)
        stds.append(torch.exp(0.5 * logvar))
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def normalise_latents(vae, mean, std, log):
    """Folds a per-channel shift and scale into quant_conv / post_quant_conv so that
    latent * 0.18215 (SD's fixed scaling factor) has zero mean and unit variance per channel.
    The decoder's output for a given picture is unchanged."""
    m = mean.mean(dim=(0, 2, 3))
    s = mean.std(dim=(0, 2, 3))
    k = 1.0 / (sampling.SCALING * s)  # z' = k (z - m)
    qc, pq = vae.quant_conv, vae.post_quant_conv
    qc.weight[:4] *= k[:, None, None, None]
    qc.bias[:4] = k * (qc.bias[:4] - m)
    qc.bias[4:] += 2 * torch.log(k)
    pq.bias += (pq.weight[:, :, 0, 0] @ m)
    pq.weight /= k[None, :, None, None]
    log(f"latent channel means {m.numpy().round(3)} stds {s.numpy().round(3)}")
    return (mean - m[None, :, None, None]) * k[None, :, None, None], std * k[None, :, None, None]


# ---- captions -------------------------------------------------------------------------

CFG_DROP = 0.1  # share of empty captions (the unconditional case of classifier-free guidance)


def sample_captions(scene_list, idx, rng):
    """A training caption for each scene index; some are empty."""
    return ["" if rng.random() < CFG_DROP
            else scenes.caption(scene_list[int(i)], scenes.training_keep(rng)) for i in idx]


# ---- UNet -----------------------------------------------------------------------------

def train_unet(model, vocab, scene_list, mean, std, args, log, preview):
    """The UNet and the text encoder together, on the noise-prediction loss."""
    params = list(model.model.parameters()) + list(model.cond_stage_model.parameters())
    opt = torch.optim.AdamW(params, lr=UNET_LR, weight_decay=0.01)
    ema = [p.detach().clone() for p in params]
    ac = sampling.alphas_cumprod()
    rng = np.random.default_rng(args.seed + 2)
    gen = torch.Generator().manual_seed(args.seed + 3)
    for step in range(args.unet_steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.unet_steps, UNET_LR, warmup=200)
        idx = torch.from_numpy(rng.integers(0, len(scene_list), args.batch))
        ids = torch.tensor([vocab.window(c) for c in sample_captions(scene_list, idx, rng)])
        context = model.cond_stage_model(ids)
        z0 = (mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=gen)) * sampling.SCALING
        t = torch.randint(0, sampling.TRAIN_STEPS, (args.batch,), generator=gen)
        noise = torch.randn(z0.shape, generator=gen)
        a = ac[t][:, None, None, None]
        xt = a.sqrt() * z0 + (1 - a).sqrt() * noise
        pred = model.model(xt, t, context)
        # min-SNR-5 weighting (Hang et al. 2023): the low-noise steps, which are easy, no
        # longer dominate the gradient; converges several times faster than plain MSE.
        snr = a / (1 - a)
        weight = snr.clamp(max=MIN_SNR_GAMMA) / snr
        loss = (weight * (pred - noise) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(0.999, (1 + step) / (10 + step))
            for e, p in zip(ema, params):
                e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        if step % 100 == 0 or step == args.unet_steps - 1:
            log(f"unet step {step}/{args.unet_steps} loss {loss.item():.4f}")
        if step % 1000 == 999:
            preview(f"step{step + 1}")
    with torch.no_grad():
        for e, p in zip(ema, params):
            p.copy_(e)


# ---- test material --------------------------------------------------------------------

def prompt_rows(held_out, n, seed):
    """n fully specified test scenes (held-out pairs or seen pairs) with caption and seed."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        s = scenes.random_scene(rng, held_out)
        rows.append({"set": "heldout" if held_out else "seen", "seed": seed + i,
                     "prompt": scenes.caption(s), **s})
    return rows


def write_prompts(path, rows):
    cols = ["set", "seed", "colour", "shape", "size", "position", "background", "count", "prompt"]
    with open(path, "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join(str(r.get(c, "-")) for c in cols) + "\n")


def write_renders(folder, rows, seed, train_scenes, train_pics):
    """Ground-truth pictures (one 64x64 tile each, 10 per row): the test scenes, then
    training pictures as the model saw them."""
    rng = np.random.default_rng(seed)
    tiles = [scenes.render(r, scenes.layout(r, rng)) for r in rows] + list(train_pics)
    rows = rows + [{"set": "train", "seed": 0, "prompt": scenes.caption(s), **s}
                   for s in train_scenes]
    per_row = 10
    while len(tiles) % per_row:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.stack(tiles).reshape(-1, per_row, 64, 64, 3).transpose(0, 2, 1, 3, 4)
    pngfile.write(os.path.join(folder, "renders.png"), grid.reshape(-1, per_row * 64, 3))
    write_prompts(os.path.join(folder, "renders.tsv"), rows)


def tolerance(dev, peak):
    """The golden rule: max(8 dev, 2e-5 max(1, max|x|)) rounded up to one significant digit."""
    tol = max(8 * dev, 2e-5 * max(1.0, peak))
    e = math.floor(math.log10(tol))
    return math.ceil(tol / 10 ** e) * 10 ** e


def write_reference(folder, ckpt, vocab_size, ids_cond, ids_uncond, params, log):
    """DDIM run of the exported (F16) weights in float32 and float64."""
    out = {}
    for dtype in (torch.float32, torch.float64):
        m = nets.LatentDiffusion(vocab_size, unet=UNET, vae=VAE, **TEXT)
        checkpoint.load_model(ckpt, m)
        m = m.to(dtype).eval()
        out[dtype] = sampling.txt2img_ddim(m, ids_cond, ids_uncond, params["seed"],
                                           params["steps"], params["cfg_scale"], dtype=dtype)
    (lat32, img32), (lat64, _) = out[torch.float32], out[torch.float64]
    dev = (lat32.double() - lat64).abs().max().item()
    tol = tolerance(dev, lat32.abs().max().item())
    u8 = sampling.to_u8(img32)
    checkpoint.save(os.path.join(folder, "reference.safetensors"),
                    {"final_latent": lat32.float(), "image_u8": u8})
    pngfile.write(os.path.join(folder, "reference.png"), u8)
    params = dict(params, final_latent_tol_max_abs=tol, f32_vs_f64_max_abs=dev)
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(params, f, indent=2)
        f.write("\n")
    log(f"reference: f32 vs f64 final latent {dev:.2e}, tolerance {tol:g}")


# ---- main -----------------------------------------------------------------------------

def main():
    args = parse_args()
    torch.set_num_threads(VAE_THREADS)
    torch.manual_seed(args.seed)
    for d in (args.work, args.models, args.tests):
        os.makedirs(d, exist_ok=True)
    log = Log(os.path.join(args.work, "train.log"))
    log(f"args {vars(args)}")

    vocab = bpe.Vocabulary(scenes.WORDS)
    scene_list, pics = scenes.dataset(args.images, args.seed)
    log(f"rendered {len(pics)} training pictures")
    ckpt = os.path.join(args.models, "model.safetensors")
    if args.test_material_only:
        write_test_material(args, vocab, ckpt, scene_list, pics, log)
        return
    vocab.write(args.models)
    log(f"vocabulary: {len(vocab)} tokens, {len(vocab.merges)} merges")

    model = nets.LatentDiffusion(len(vocab), unet=UNET, vae=VAE, **TEXT)
    vae = model.first_stage_model
    vae_file = os.path.join(args.work, "vae.safetensors")
    if args.reuse_vae and os.path.exists(vae_file):
        vae.load_state_dict({k: torch.from_numpy(v.copy())
                             for k, v in checkpoint.load(vae_file).items()})
        log(f"VAE from {vae_file}")
    else:
        train_vae(vae, pics, args, log)
        checkpoint.save(vae_file, vae.state_dict())
    vae.eval()
    mean, std = encode_all(vae, pics)
    mean, std = normalise_latents(vae, mean, std, log)
    with torch.no_grad():
        rec = vae.decode(mean[:256]) - to_pixels(pics[:256])
        shown = torch.cat([to_pixels(pics[:10]), vae.decode(mean[:10])])
    log(f"vae reconstruction of the mean latent: mean |error| {rec.abs().mean():.4f} "
        f"(of 2), max {rec.abs().max():.3f}")
    shown = ((shown / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    grid = shown.permute(0, 2, 3, 1).reshape(2, 10, 64, 64, 3).permute(0, 2, 1, 3, 4)
    pngfile.write(os.path.join(args.work, "vae.png"), grid.reshape(128, 640, 3).numpy())
    for p in vae.parameters():
        p.requires_grad_(False)

    preview_rows = prompt_rows(True, 20, 777) + prompt_rows(False, 20, 888)
    preview_ids = torch.tensor([vocab.window(r["prompt"]) for r in preview_rows])
    empty_ids = torch.tensor([vocab.window("")])

    def preview(tag):
        model.eval()
        pics_out = sampling.sample_batch(model, preview_ids, torch.Generator().manual_seed(5),
                                         uncond_ids=empty_ids)
        model.train()
        grid = pics_out.reshape(4, 10, 64, 64, 3).transpose(0, 2, 1, 3, 4).reshape(256, 640, 3)
        pngfile.write(os.path.join(args.work, f"preview-{tag}.png"), grid)
        log(f"preview written: preview-{tag}.png")

    torch.set_num_threads(UNET_THREADS)
    train_unet(model, vocab, scene_list, mean, std, args, log, preview)
    model.eval()
    preview("final")

    checkpoint.save_model(ckpt, model)
    log(f"wrote {ckpt} ({os.path.getsize(ckpt) / 1e6:.1f} MB)")
    write_test_material(args, vocab, ckpt, scene_list, pics, log)
    log("done")


def write_test_material(args, vocab, ckpt, scene_list, pics, log):
    rows = prompt_rows(True, 40, 1000) + prompt_rows(False, 40, 2000)
    write_prompts(os.path.join(args.tests, "prompts.tsv"), rows)
    write_renders(args.tests, rows, args.seed + 4, scene_list[:100], pics[:100])
    ref = {"prompt": "a large yellow star in the top right on a blue background",
           "negative_prompt": "", "seed": 7, "steps": 10, "cfg_scale": 5.0,
           "sampler": "ddim", "rng": "cpu", "width": 64, "height": 64}
    empty_ids = torch.tensor([vocab.window("")])
    write_reference(args.tests, ckpt, len(vocab), torch.tensor([vocab.window(ref["prompt"])]),
                    empty_ids, ref, log)


if __name__ == "__main__":
    main()
