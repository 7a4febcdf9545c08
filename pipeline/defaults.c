/* Default parameters of the public API (whisper.cpp style *_default_params()). */
#include <stddef.h>
#include <string.h>

#include "ops/error.h"
#include "pipeline/pipeline_impl.h"


sdc_model_params sdc_model_default_params(void)
{
    sdc_model_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.prediction = SDC_PREDICTION_AUTO;
    return p;
}

sdc_generate_params sdc_generate_default_params(void)
{
    sdc_generate_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.prompt = "";
    p.negative_prompt = "";
    p.width = 512;
    p.height = 512;
    p.steps = 20;
    p.cfg_scale = 7.0f;
    p.seed = 42;
    p.sampler = "euler_a";
    p.rng = SDC_RNG_TYPE_CUDA;
    p.emphasis = 1;
    p.strength = 0.75f;
    p.mask_blur = 4.0f;
    p.inpaint_padding = 32;
    p.noise_level = 20;
    p.hr_scale = 2.0f;
    p.hr_denoising = 0.7f;
    p.preview_interval = 1;
    p.vae_tiling = SDC_VAE_TILING_AUTO;
    return p;
}

sdc_control sdc_control_default_params(void)
{
    sdc_control c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.strength = 1.0f;
    c.end = 1.0f;
    c.canny_low = 100;
    c.canny_high = 200;
    return c;
}

/* The caller's struct of struct_size bytes over the defaults of this version. */
static sdc_status upgrade(const void *in, size_t first_group_end, const char *type,
                          const char *defaults, void *out, size_t size)
{
    size_t given = *(const size_t *)in;
    if (given < first_group_end)
        return sdc_fail(SDC_ERR_ARG, "%s.struct_size is %zu, less than the %zu bytes every "
                        "version has (set it with %s())", type, given, first_group_end, defaults);
    memcpy(out, in, given < size ? given : size);
    *(size_t *)out = size;
    return SDC_OK;
}

sdc_status sdc_model_params_upgrade(const sdc_model_params *in, sdc_model_params *out)
{
    *out = sdc_model_default_params();
    return upgrade(in, offsetof(sdc_model_params, prediction), "sdc_model_params",
                   "sdc_model_default_params", out, sizeof *out);
}

sdc_status sdc_generate_params_upgrade(const sdc_generate_params *in, sdc_generate_params *out)
{
    *out = sdc_generate_default_params();
    return upgrade(in, offsetof(sdc_generate_params, init_rgb), "sdc_generate_params",
                   "sdc_generate_default_params", out, sizeof *out);
}

sdc_status sdc_control_upgrade(const sdc_control *in, sdc_control *out)
{
    *out = sdc_control_default_params();
    return upgrade(in, offsetof(sdc_control, strength), "sdc_control",
                   "sdc_control_default_params", out, sizeof *out);
}
