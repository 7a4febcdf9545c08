#include "cmd/batch_stale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "image/image.h"
#include "pipeline/parameters.h"
#include "weights/hash_cache.h"

enum { MAX_FIELDS = 64 };

/* A parameters text cut into its prompt, negative prompt and "Key: value" fields (pointers
 * into the text, which is modified). */
typedef struct parsed {
    const char *prompt, *negative;
    const char *key[MAX_FIELDS], *value[MAX_FIELDS];
    int n;
} parsed;

static char *last_of(char *text, const char *needle)
{
    char *found = NULL;
    for (char *p = text; (p = strstr(p, needle)); p++)
        found = p;
    return found;
}

/* The last line is "Steps: 20, Sampler: Euler a, ..., Lora hashes: "a: 1, b: 2", ..."; a
 * quoted value may hold ", ". */
static void split_fields(char *p, parsed *out)
{
    while (*p && out->n < MAX_FIELDS) {
        char *colon = strstr(p, ": ");
        if (!colon)
            return;
        *colon = '\0';
        char *v = colon + 2, *end;
        if (*v == '"') {
            char *q = strchr(v + 1, '"');
            end = q ? q + 1 : v + strlen(v);
        } else {
            end = strstr(v, ", ");
            end = end ? end : v + strlen(v);
        }
        out->key[out->n] = p;
        out->value[out->n++] = v;
        p = end;
        if (*p) {
            *p = '\0';
            p += p[1] == ' ' ? 2 : 1;
        }
    }
}

static int parse(char *text, parsed *out)
{
    memset(out, 0, sizeof *out);
    char *steps = strncmp(text, "Steps: ", 7) == 0 ? text : last_of(text, "\nSteps: ");
    if (!steps)
        return -1;
    out->prompt = text;
    out->negative = "";
    if (steps != text) {
        *steps++ = '\0';
        char *neg = last_of(text, "\nNegative prompt: ");
        if (neg) {
            *neg = '\0';
            out->negative = neg + 18;
        }
    } else {
        out->prompt = "";
    }
    split_fields(steps, out);
    return 0;
}

static const char *field(const parsed *p, const char *key)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->key[i], key) == 0)
            return p->value[i];
    return NULL;
}

/* Fields that are not the job's: hashes are checked apart (the model's) or follow from the
 * prompt (LoRA), the version does not change a picture, the refiner is recorded by the model
 * it loaded, and the size of an img2img job comes from its init image. */
static int ignored(const char *key, const sdc_batch_job *job)
{
    static const char *const keys[] = {"Model hash", "Lora hashes", "Version", "Refiner",
                                       "Refiner switch at"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return job->opt.init_img && strcmp(key, "Size") == 0;
}

/* First field that differs, either way round. */
static int compare_fields(const parsed *had, const parsed *want, const sdc_batch_job *job,
                          char *why, size_t size)
{
    for (int pass = 0; pass < 2; pass++) {
        const parsed *a = pass ? want : had, *b = pass ? had : want;
        for (int i = 0; i < a->n; i++) {
            const char *other = field(b, a->key[i]);
            if (ignored(a->key[i], job) || (other && strcmp(other, a->value[i]) == 0))
                continue;
            const char *from = pass ? other : a->value[i], *to = pass ? a->value[i] : other;
            snprintf(why, size, "%s: %s -> %s", a->key[i], from ? from : "(none)",
                     to ? to : "(none)");
            return 1;
        }
    }
    return 0;
}

/* The model file's hash, as the picture records it (single files; a folder's is not
 * checked). A file that cannot be hashed will fail to load anyway: not stale here. */
static int model_changed(const parsed *had, const sdc_batch_job *job, char *why, size_t size)
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

static int compare(char *stored, char *expected, const sdc_batch_job *job, char *why,
                   size_t size)
{
    parsed had, want;
    if (parse(stored, &had) != 0 || parse(expected, &want) != 0) {
        snprintf(why, size, "its parameters cannot be read");
        return 1;
    }
    if (strcmp(had.prompt, want.prompt) != 0) {
        snprintf(why, size, "the prompt changed");
        return 1;
    }
    if (strcmp(had.negative, want.negative) != 0) {
        snprintf(why, size, "the negative prompt changed");
        return 1;
    }
    return compare_fields(&had, &want, job, why, size) || model_changed(&had, job, why, size);
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
    char *expected = sdc_parameters_text(&g, job->opt.model, NULL, NULL);
    int stale = expected ? compare(stored, expected, job, why, size) : 0;
    free(stored);
    free(expected);
    return stale;
}
