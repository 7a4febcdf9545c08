#include "cmd/batch_stale.h"
#include "cmd/recipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "image/image.h"
#include "pipeline/control.h"
#include "pipeline/infotext.h"
#include "pipeline/parameters.h"
#include "weights/hash_cache.h"

static const char *field(const sdc_infotext *p, const char *key)
{
    return sdc_infotext_get(p, key);
}

/* Fields that are not the job's: hashes are checked apart (the model's) or follow from the
 * prompt (LoRA), the version does not change a picture, the refiner is recorded by the model
 * it loaded, and the size of an img2img job comes from its init image. */
static int ignored(const char *key, const sdc_batch_job *job)
{
    static const char *const keys[] = {"Model hash", "Lora hashes", "TI hashes", "Version",
                                       "Refiner", "Refiner switch at"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return job->opt.init_img && strcmp(key, "Size") == 0;
}

/* First field that differs, either way round. */
static int compare_fields(const sdc_infotext *had, const sdc_infotext *want,
                          const sdc_batch_job *job, char *why, size_t size)
{
    for (int pass = 0; pass < 2; pass++) {
        const sdc_infotext *a = pass ? want : had, *b = pass ? had : want;
        for (size_t i = 0; i < a->count; i++) {
            const char *other = field(b, a->keys[i]);
            if (ignored(a->keys[i], job) || (other && strcmp(other, a->values[i]) == 0))
                continue;
            const char *from = pass ? other : a->values[i], *to = pass ? a->values[i] : other;
            snprintf(why, size, "%s: %s -> %s", a->keys[i], from ? from : "(none)",
                     to ? to : "(none)");
            return 1;
        }
    }
    return 0;
}

/* The model file's hash, as the picture records it (single files; a folder's is not
 * checked). A file that cannot be hashed will fail to load anyway: not stale here. */
static int model_changed(const sdc_infotext *had, const sdc_batch_job *job, char *why, size_t size)
{
    const char *hash = field(had, "Model hash");
    struct stat st;
    char hex[65];
    if (!hash || !job->opt.model || stat(job->opt.model, &st) != 0 || !S_ISREG(st.st_mode) ||
        sdc_file_sha256_cached(job->opt.model, hex) != SDC_OK)
        return 0;
    hex[10] = '\0';
    if (strcasecmp(hash, hex) == 0)
        return 0;
    snprintf(why, size, "Model hash: %s -> %s", hash, hex);
    return 1;
}

/* The texts as AUTOMATIC1111 reads them (pipeline/infotext.h): prompt, negative, fields. */
static int compare(const char *stored, const char *expected, const sdc_batch_job *job,
                   char *why, size_t size)
{
    sdc_infotext had, want;
    if (sdc_infotext_parse(stored, &had) != SDC_OK) {
        snprintf(why, size, "its parameters cannot be read");
        return 1;
    }
    if (sdc_infotext_parse(expected, &want) != SDC_OK) {
        sdc_infotext_free(&had);
        snprintf(why, size, "its parameters cannot be read");
        return 1;
    }
    int stale = 1;
    if (had.count == 0)
        snprintf(why, size, "its parameters cannot be read");
    else if (strcmp(had.prompt, want.prompt) != 0)
        snprintf(why, size, "the prompt changed");
    else if (strcmp(had.negative, want.negative) != 0)
        snprintf(why, size, "the negative prompt changed");
    else
        stale = compare_fields(&had, &want, job, why, size) ||
                model_changed(&had, job, why, size);
    sdc_infotext_free(&had);
    sdc_infotext_free(&want);
    return stale;
}

int sdc_batch_stale(const sdc_batch_job *job, int image, const char *path, char *why,
                    size_t size)
{
    size_t n = strlen(path);
    if (n < 4 || strcasecmp(path + n - 4, ".png") != 0)
        return 0;
    char *stored = NULL;
    if (sdc_png_read_parameters(path, &stored) != SDC_OK || !stored) {
        free(stored);
        snprintf(why, size, "it has no parameters");
        return 1;
    }
    sdc_generate_params g = job->opt.gen;
    g.seed += (uint64_t)image;
    /* only tested for NULL by the text: an img2img job records its strength */
    static const uint8_t some_pixels[1];
    g.init_rgb = job->opt.init_img ? some_pixels : NULL;
    g.refiner = NULL;
    if (sdc_cli_apply_recipe(&job->opt, NULL, &g) != SDC_OK) {
        free(stored);
        snprintf(why, size, "its model cannot be read (%s)", sdc_last_error());
        return 1;
    }
    char *controls = sdc_pipeline_control_text(&g);
    char *expected = sdc_parameters_text(&g, job->opt.model, NULL, NULL, NULL, controls);
    free(controls);
    int stale = expected ? compare(stored, expected, job, why, size) : 0;
    free(stored);
    free(expected);
    return stale;
}
