/* SDXL's added conditioning: the UNet's label vector per batch row,
 *     label = cat[pooled text vector, sinusoid(id) for each size id]
 * with the ids of the base model [original_h, original_w, crop_top, crop_left, target_h,
 * target_w] or of the refiner [original_h, original_w, crop_top, crop_left, aesthetic score]
 * (diffusers' _get_add_time_ids; the refiner's negative row has its own aesthetic score).
 * Which form a UNet takes follows from its label width: pooled + 6 D or pooled + 5 D. */
#include <stdlib.h>

#include "ops/error.h"
#include "pipeline/pipeline_impl.h"
#include "unet/timestep.h"

#define DEFAULT_AESTHETIC 6.0f
#define DEFAULT_NEGATIVE_AESTHETIC 2.5f

static float or_default(int v, int fallback) { return (float)(v > 0 ? v : fallback); }

/* ids [n] of one row (`negative`: the negative prompt's row). */
static void size_ids(const sdc_generate_params *p, int n, int negative, float *ids)
{
    ids[0] = or_default(p->original_height, p->height);
    ids[1] = or_default(p->original_width, p->width);
    ids[2] = (float)p->crop_top;
    ids[3] = (float)p->crop_left;
    if (n == 6) {
        ids[4] = or_default(p->target_height, p->height);
        ids[5] = or_default(p->target_width, p->width);
    } else {
        float a = negative ? p->negative_aesthetic_score : p->aesthetic_score;
        ids[4] = a > 0 ? a : negative ? DEFAULT_NEGATIVE_AESTHETIC : DEFAULT_AESTHETIC;
    }
}

static sdc_status class_labels(const sdc_generate_params *p, int rows, float **label)
{
    float *out = malloc((size_t)rows * sizeof *out);
    if (!out)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for the class labels");
    for (int r = 0; r < rows; r++)
        out[r] = (float)p->noise_level;
    *label = out;
    return SDC_OK;
}

sdc_status sdc_pipeline_labels(sdc_model *m, const sdc_generate_params *p, int rows,
                               const float *pooled, int negative_row, float **label)
{
    *label = NULL;
    int L = sdc_unet_label_dim(m->unet), P = sdc_pipeline_pooled_dim(m);
    int sized = p->original_width || p->original_height || p->crop_top || p->crop_left ||
                p->target_width || p->target_height;
    int aesthetic = p->aesthetic_score > 0 || p->negative_aesthetic_score > 0;
    if (L == 1) /* a class table: the x4 upscaler's label is its noise level */
        return class_labels(p, rows, label);
    if (L == 0)
        return (sized || aesthetic) && !p->refiner ? sdc_fail(SDC_ERR_ARG, "size, crop and aesthetic "
                                             "conditioning apply to SDXL models only")
                                  : SDC_OK;
    int rest = L - P, n = rest > 0 && rest % 6 == 0 ? 6 : rest > 0 && rest % 5 == 0 ? 5 : 0;
    if (!pooled || n == 0)
        return sdc_fail(SDC_ERR_UNSUPPORTED, "the UNet's label_emb takes %d values, which is "
                        "no SDXL pooled vector (%d) with size ids", L, P);
    /* with a refiner, what one model takes and the other does not is the other's */
    if (n == 6 && aesthetic && !p->refiner)
        return sdc_fail(SDC_ERR_ARG, "aesthetic scores apply to SDXL refiner models; this one "
                        "takes a target size instead");
    if (n == 5 && (p->target_width || p->target_height) && !p->refiner)
        return sdc_fail(SDC_ERR_ARG, "SDXL refiner models take no target size (they take an "
                        "aesthetic score)");
    float *out = malloc((size_t)rows * L * sizeof *out);
    if (!out)
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for the added conditioning");
    for (int r = 0; r < rows; r++) {
        float *row = out + (size_t)r * L, ids[6];
        for (int i = 0; i < P; i++)
            row[i] = pooled[(size_t)r * P + i];
        size_ids(p, n, r == negative_row, ids);
        sdc_unet_time_ids_embed(row + P, ids, n, rest / n);
    }
    *label = out;
    return SDC_OK;
}
