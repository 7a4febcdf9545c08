/* Default parameters of the public API (whisper.cpp style *_default_params()). */
#include <string.h>

#include "sdc.h"

sdc_model_params sdc_model_default_params(void)
{
    sdc_model_params p;
    memset(&p, 0, sizeof p);
    p.prediction = SDC_PREDICTION_AUTO;
    return p;
}

sdc_generate_params sdc_generate_default_params(void)
{
    sdc_generate_params p;
    memset(&p, 0, sizeof p);
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
    return p;
}
