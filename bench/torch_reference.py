"""PyTorch eager timings of the SD 1.5 networks at full size, for docs/PERFORMANCE.md.

The networks are the project's own PyTorch definitions (tools/train-demo/nets.py: the LDM
architecture with the real checkpoint names) built at SD 1.5 widths with PyTorch's default
random initialisation. Timing does not depend on the values; the FLOP counts are the same as
bench_sd's. Attention is plain softmax(QK^T)V as diffusers runs it on PyTorch 1.x, so the
64x64 level holds whole score matrices.

  /usr/bin/python3 bench/torch_reference.py --threads 2 --runs 3

Needs Debian's python3-torch and python3-numpy; nothing else.
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools", "train-demo"))
import nets  # noqa: E402

SD15_UNET = dict(model_channels=320, channel_mult=(1, 2, 4, 4), num_res_blocks=2,
                 attention_levels=(0, 1, 2), context_dim=768, heads=8)
SD15_VAE = dict(ch=128, mult=(1, 2, 4, 4), resnets=2, z=4)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median_time(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def report(name, runs_s, gflop, peak_gflops):
    med = statistics.median(runs_s)
    rate = gflop / med
    print(f"{name:<28} {med:8.3f} s  {rate:7.1f} GFLOP/s  {100 * rate / peak_gflops:5.1f}% of peak"
          f"  peak RSS {peak_rss_mib():7.0f} MiB  runs {', '.join(f'{t:.3f}' for t in runs_s)}",
          flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--peak", type=float, default=224.0,
                   help="fp32 FMA peak in GFLOP/s for the threads used (bench_sd prints it)")
    p.add_argument("--stages", default="text,unet,vae")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    latent = 64  # 512x512 pictures: the sizes bench_sd's FLOP counts are for
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, 512x512, "
          f"median of {a.runs} (after one warm-up)", flush=True)
    stages = a.stages.split(",")
    with torch.inference_mode():
        if "text" in stages:
            text = nets.FrozenCLIPEmbedder(49408, 768, 12).eval()
            ids = torch.randint(0, 49408, (2, nets.CONTEXT))  # prompt and negative prompt
            text(ids)
            _, runs = median_time(lambda: text(ids), a.runs)
            report("text encoder (B=2, 77 tokens)", runs, 26.6, a.peak)
            del text
        if "unet" in stages:
            unet = nets.UNetModel(**SD15_UNET).eval()
            x = torch.randn(2, 4, latent, latent)
            t = torch.tensor([500, 500])
            ctx = torch.randn(2, nets.CONTEXT, 768)
            unet(x, t, ctx)
            _, runs = median_time(lambda: unet(x, t, ctx), a.runs)
            report(f"UNet step (B=2, {latent}x{latent})", runs, 1606.0, a.peak)
            del unet
        if "vae" in stages:
            dec = nets.Decoder(**SD15_VAE).eval()
            z = torch.randn(1, 4, latent, latent)
            dec(z)
            _, runs = median_time(lambda: dec(z), a.runs)
            report("VAE decode (512x512)", runs, 2514.0, a.peak)


if __name__ == "__main__":
    main()
