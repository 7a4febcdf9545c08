/* Runtime CPU dispatch. One sdc binary runs on any x86-64: kernels for wider ISAs live in
 * their own files, compiled for that ISA, and are only called when the CPU supports it.
 * The level can be capped (sdc_cpu_set_max_level) so tests and benchmarks can compare the
 * fast paths with the portable one. */
#ifndef SDC_OPS_CPU_H
#define SDC_OPS_CPU_H

typedef enum sdc_cpu_level {
    SDC_CPU_SCALAR, /* portable C (whatever the compiler's baseline x86-64 gives) */
    SDC_CPU_AVX2,   /* AVX2 + FMA + F16C */
    SDC_CPU_AVX512, /* AVX-512 F/BW/DQ/VL + FMA + F16C */
} sdc_cpu_level;

/* The best level the CPU supports (ignores the cap). */
sdc_cpu_level sdc_cpu_detect(void);
/* The level kernels use: the detected one, lowered by the cap. */
sdc_cpu_level sdc_cpu_level_get(void);
/* Caps the level (never raises it above what the CPU supports). Not thread-safe: call it
 * before kernels run. */
void sdc_cpu_set_max_level(sdc_cpu_level cap);
/* Whether AVX512_BF16 (vdpbf16ps) is usable at the current level. */
int sdc_cpu_has_bf16(void);
/* Whether AVX512_VNNI (vpdpbusd, the int8 GEMM) is usable at the current level. */
int sdc_cpu_has_vnni(void);
/* Whether AVX-VNNI (the VEX vpdpbusd on 256 bits) is usable at the current level. */
int sdc_cpu_has_avx_vnni(void);
/* "scalar", "avx2", "avx512"; sdc_cpu_level_from_name returns -1 for other names. */
const char *sdc_cpu_level_name(sdc_cpu_level level);
int sdc_cpu_level_from_name(const char *name);

/* Arithmetic of linear layers, convolutions and attention. BF16 rounds weights and
 * activations to bfloat16 as the GEMM packs them, and attention's q, k, probabilities and v
 * (ops/attention_bf16.c), and multiplies with AVX512_BF16 (sums, softmax stay f32): about
 * twice the FLOP rate, about 3 significant digits per product. It applies only where
 * sdc_cpu_has_bf16(); elsewhere, and for everything else (norms, sdc_sgemm, Winograd's
 * products), the math is fp32. Process-wide and not thread-safe: set it before kernels run. */
typedef enum sdc_precision {
    SDC_PRECISION_FP32,
    SDC_PRECISION_BF16,
    /* INT8: the linear layers chosen at load (attention projections, feed-forward, text
     * encoder) hold q8_0 weights and multiply int8 activations quantised per row (ops/gemm_q8.h)
     * with the best int8 kernel of the CPU (AVX512_VNNI, AVX-VNNI, AVX2, else plain C: all give
     * the same bits); convolutions and everything else stay fp32. */
    SDC_PRECISION_INT8,
} sdc_precision;

void sdc_precision_set(sdc_precision precision);
sdc_precision sdc_precision_get(void);
/* "fp32", "bf16", "int8"; sdc_precision_from_name returns -1 for other names. */
const char *sdc_precision_name(sdc_precision precision);
int sdc_precision_from_name(const char *name);

/* Measured fp32 FMA throughput of this machine at the current level, in GFLOP/s (an FMA
 * counts 2 FLOP), over `threads` threads, each timed by its own CPU clock (so the figure is
 * what the cores give when the process has them): the ceiling benchmarks compare with. */
double sdc_cpu_peak_gflops(int threads);
/* The same for vdpbf16ps (a bf16 pair product added to f32 counts 4 FLOP per lane); 0 without
 * AVX512_BF16. */
double sdc_cpu_peak_bf16_gflops(int threads);
/* The same for the int8 dot products of the int8 GEMM's kernel (sdc_q8_path_best): four
 * int8 products added to an int32 lane, 8 ops per lane (a multiply-add counting 2), by
 * vpdpbusd on 512 or 256 bits, or on AVX2 by vpmaddubsw + vpmaddwd + vpaddd (the sign
 * trick's vpsignb not counted); 0 for the scalar kernel. */
double sdc_cpu_peak_int8_gops(int threads);

#endif
