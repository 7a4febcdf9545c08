/* The "ControlNet N" entries of the PNG parameters, as AUTOMATIC1111's ControlNet extension
 * writes them:
 *   ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 0.9,
 *   Resize Mode: Just Resize, Low Vram: False, Processor Res: 512, Threshold A: 100,
 *   Threshold B: 200, Guidance Start: 0, Guidance End: 1, Pixel Perfect: False,
 *   Control Mode: Balanced"
 * The model hash is the extension's: the first 8 hex digits of the SHA-256 of the 64 KiB at
 * offset 1 MiB of the file (AUTOMATIC1111's old model hash). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/control.h"
#include "pipeline/parameters.h"
#include "pipeline/pipeline_impl.h"
#include "weights/sha256.h"

/* "[0123abcd]" of a ControlNet file; "" for a folder or an unreadable file. */
static void legacy_hash(const char *path, char out[12])
{
    out[0] = '\0';
    struct stat sb;
    FILE *f = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? fopen(path, "rb") : NULL;
    if (!f)
        return;
    static unsigned char buf[0x10000];
    size_t n = fseek(f, 0x100000, SEEK_SET) == 0 ? fread(buf, 1, sizeof buf, f) : 0;
    fclose(f);
    sdc_sha256 ctx;
    uint8_t digest[32];
    char hex[65];
    sdc_sha256_init(&ctx);
    sdc_sha256_update(&ctx, buf, n);
    sdc_sha256_final(&ctx, digest);
    sdc_sha256_hex(digest, hex);
    snprintf(out, 12, " [%.8s]", hex);
}

static const char *module_name(sdc_control_preprocess p)
{
    return p == SDC_CONTROL_PREPROCESS_CANNY    ? "canny"
           : p == SDC_CONTROL_PREPROCESS_INVERT ? "invert"
                                                : "none";
}

static void write_entry(FILE *f, int i, const sdc_control *c)
{
    char name[256], hash[12];
    sdc_parameters_file_name(c->path ? c->path : "", name, sizeof name);
    legacy_hash(c->path ? c->path : "", hash);
    fprintf(f, ", ControlNet %d: \"Module: %s, Model: %s%s, Weight: %g, Resize Mode: Just "
            "Resize, Low Vram: False, Processor Res: 512", i, module_name(c->preprocess), name,
            hash, c->strength);
    if (c->preprocess == SDC_CONTROL_PREPROCESS_CANNY)
        fprintf(f, ", Threshold A: %d, Threshold B: %d", c->canny_low, c->canny_high);
    fprintf(f, ", Guidance Start: %g, Guidance End: %g, Pixel Perfect: False, Control Mode: "
            "%s\"", c->start, c->end, c->guess_mode ? "ControlNet is more important"
                                                    : "Balanced");
}

char *sdc_pipeline_control_text(const sdc_generate_params *p)
{
    if (p->control_count <= 0 || !p->controls)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    size_t stride = p->controls[0].struct_size;
    for (int i = 0; i < p->control_count; i++) {
        sdc_control c;
        if (sdc_control_upgrade((const sdc_control *)((const char *)p->controls + i * stride),
                                &c) == SDC_OK)
            write_entry(f, i, &c);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
