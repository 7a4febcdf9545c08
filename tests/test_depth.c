/* Depth maps for the SD 2 depth model against golden/trajectories/depth2img.*: the 16-bit
 * PNG read at full precision (depth_map) and brought to the latent grid as diffusers'
 * prepare_depth_map does (depth_latent: torch bicubic resize, then min-max to [-1, 1]). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "image/depth.h"
#include "tests/golden.h"

#define CASE "depth2img.tiny-sd2-depth.ddim"

Test(depth, the_golden_map_and_its_latent)
{
    sdc_safetensors *st = golden_open("trajectories/" CASE ".safetensors");
    float *depth;
    int w, h;
    cr_assert_eq(sdc_depth_map_read(golden_path("trajectories/" CASE ".depth.png"), &depth, &w,
                                    &h),
                 SDC_OK, "%s", sdc_last_error());
    const sdc_st_entry *want = golden_get(st, "depth_map");
    cr_assert(want->tensor.shape[1] == h && want->tensor.shape[2] == w, "size %dx%d", w, h);
    expect_close(depth, want, golden_tol(CASE, "depth_map"), "16-bit depth PNG");
    const sdc_st_entry *lat = golden_get(st, "depth_latent");
    int lh = (int)lat->tensor.shape[2], lw = (int)lat->tensor.shape[3];
    float *out = malloc((size_t)lw * lh * sizeof *out);
    sdc_depth_to_latent(depth, w, h, lw, lh, out);
    double d = expect_close(out, lat, golden_tol(CASE, "depth_latent"), "depth latent");
    cr_log_info("depth latent %dx%d from %dx%d: max |diff| %.3g", lw, lh, w, h, d);
    /* any positive affine change of the depth gives the same latent */
    float *scaled = malloc((size_t)w * h * sizeof *scaled), *again = malloc((size_t)lw * lh * 4);
    for (int i = 0; i < w * h; i++)
        scaled[i] = 3.0f * depth[i] + 0.25f;
    sdc_depth_to_latent(scaled, w, h, lw, lh, again);
    cr_expect_leq(max_abs_diff(out, again, (size_t)lw * lh), 1e-5);
    free(scaled);
    free(again);
    free(out);
    free(depth);
    sdc_safetensors_close(st);
}

Test(depth, a_flat_map_is_zero_not_nan)
{
    float flat[6 * 4], out[3 * 2];
    for (int i = 0; i < 24; i++)
        flat[i] = 0.5f;
    sdc_depth_to_latent(flat, 6, 4, 3, 2, out);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(out[i], 0.0f);
}

/* Upsampling a ramp keeps it a ramp from -1 to 1 (the bicubic weights sum to 1). */
Test(depth, a_ramp_stays_monotonic)
{
    float ramp[4 * 4], out[8 * 8];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            ramp[y * 4 + x] = (float)x;
    sdc_depth_to_latent(ramp, 4, 4, 8, 8, out);
    for (int y = 0; y < 8; y++) {
        cr_expect_float_eq(out[y * 8], -1.0f, 1e-6);
        cr_expect_float_eq(out[y * 8 + 7], 1.0f, 1e-6);
        for (int x = 1; x < 8; x++)
            cr_expect_geq(out[y * 8 + x], out[y * 8 + x - 1]);
    }
}
