/* Live previews (pipeline/preview.h, docs/previews.md). The buffers are taken once before
 * the loop; a preview costs a 15-flop-per-cell projection (proj), a TAESD decode (tae) or a
 * full VAE decode (vae) on the thread that samples. */
#include "pipeline/preview.h"

#include <stdlib.h>
#include <string.h>

#include "ops/error.h"

static sdc_status check(const sdc_model *m, const sdc_generate_params *p)
{
    if ((int)p->preview < (int)SDC_PREVIEW_NONE || (int)p->preview > (int)SDC_PREVIEW_VAE)
        return sdc_fail(SDC_ERR_ARG, "unknown preview mode %d; choose none, proj, tae or vae",
                        (int)p->preview);
    if (p->preview_interval < 1)
        return sdc_fail(SDC_ERR_ARG, "preview interval must be at least 1 step (got %d)",
                        p->preview_interval);
    if (p->preview == SDC_PREVIEW_TAE && (!m->taesd || !sdc_taesd_decoder_path(m->taesd)))
        return sdc_fail(SDC_ERR_ARG, "tae previews need a TAESD decoder (--taesd FILE); "
                        "use proj or vae");
    return SDC_OK;
}

sdc_status sdc_pipeline_preview_prepare(const sdc_model *m, const sdc_generate_params *p,
                                        int h, int w, int tiled, sdc_pipeline_preview *pv)
{
    memset(pv, 0, sizeof *pv);
    sdc_status s = check(m, p);
    if (s != SDC_OK || p->preview == SDC_PREVIEW_NONE || !p->preview_fn)
        return s;
    if (p->preview == SDC_PREVIEW_PROJ)
        s = sdc_latent_rgb_for_family(sdc_checkpoint_family(m->ck), &pv->map);
    if (s != SDC_OK)
        return s;
    int down = p->preview == SDC_PREVIEW_PROJ ? 1 : sdc_vae_downscale(m->vae);
    size_t pixels = (size_t)h * down * w * down;
    pv->x0 = malloc((size_t)4 * h * w * sizeof(float));
    pv->rgb = malloc(3 * pixels);
    int decoded = p->preview != SDC_PREVIEW_PROJ; /* vae, tae: float pixels first */
    pv->image = decoded ? malloc(3 * pixels * sizeof(float)) : NULL;
    if (!pv->x0 || !pv->rgb || (decoded && !pv->image)) {
        sdc_pipeline_preview_free(pv);
        return sdc_fail(SDC_ERR_NOMEM, "out of memory for %dx%d previews", w * down, h * down);
    }
    pv->mode = p->preview;
    pv->interval = p->preview_interval;
    pv->h = h, pv->w = w, pv->tiled = tiled;
    pv->width = w * down, pv->height = h * down;
    return SDC_OK;
}

void sdc_pipeline_preview_free(sdc_pipeline_preview *pv)
{
    free(pv->x0);
    free(pv->image);
    free(pv->rgb);
    memset(pv, 0, sizeof *pv);
}

/* pv->x0 -> pv->rgb. */
static sdc_status decode(sdc_pipeline_preview *pv, sdc_model *m)
{
    switch (pv->mode) {
    case SDC_PREVIEW_PROJ:
        sdc_latent_rgb_project(&pv->map, pv->x0, pv->h, pv->w, pv->rgb);
        return SDC_OK;
    case SDC_PREVIEW_VAE: {
        sdc_status s = sdc_vae_decode(m->vae, pv->x0, 1, pv->h, pv->w, pv->image, pv->tiled);
        if (s == SDC_OK)
            sdc_vae_image_to_rgb8(pv->image, 1, pv->height, pv->width, pv->rgb);
        return s;
    }
    case SDC_PREVIEW_TAE: {
        sdc_status s = sdc_taesd_decode(m->taesd, pv->x0, 1, pv->h, pv->w, pv->image);
        if (s == SDC_OK)
            sdc_vae_image_to_rgb8(pv->image, 1, pv->height, pv->width, pv->rgb);
        return s;
    }
    default:
        return sdc_fail(SDC_ERR_UNSUPPORTED, "preview mode %d cannot decode", (int)pv->mode);
    }
}

sdc_status sdc_pipeline_preview_step(sdc_pipeline_preview *pv, sdc_model *m,
                                     const sdc_generate_params *p, int mid_step, int step,
                                     int steps)
{
    if (pv->mode == SDC_PREVIEW_NONE || mid_step)
        return SDC_OK;
    pv->steps_done++;
    if (pv->steps_done % pv->interval != 0 && step < steps)
        return SDC_OK;
    sdc_status s = decode(pv, m);
    if (s != SDC_OK)
        return s;
    if (p->preview_fn(pv->rgb, pv->width, pv->height, step, steps, p->user_data))
        return sdc_fail(SDC_ERR_INTERRUPTED, "interrupted");
    return SDC_OK;
}
