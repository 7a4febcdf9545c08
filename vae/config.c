/* The latent scaling factor: diffusers VAE folders say it in config.json ("scaling_factor");
 * single files carry no config, so the family decides (SDXL 0.13025, else 0.18215). */
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/error.h"
#include "vae/vae_impl.h"
#include "weights/json_file.h"

#define SCALING_SD 0.18215f
#define SCALING_SDXL 0.13025f
#define SCALING_X4 0.08333f

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The config.json that describes the VAE at `vae_path` into buf, or 0 when there is none: a
 * vae/ folder's own, a whole diffusers folder's vae/config.json, or the one beside a weights
 * file of a diffusers vae/ folder (only when it names an AutoencoderKL, checked later). */
static int config_path(const char *vae_path, char *buf, size_t cap, int *beside_file)
{
    *beside_file = 0;
    if (is_dir(vae_path)) {
        if (sdc_path_join(buf, cap, vae_path, "config.json") && sdc_is_file(buf))
            return 1;
        return sdc_path_join(buf, cap, vae_path, "vae/config.json") && sdc_is_file(buf);
    }
    const char *slash = strrchr(vae_path, '/');
    size_t dir_len = slash ? (size_t)(slash - vae_path) : 1;
    const char *dir = slash ? vae_path : ".";
    if (dir_len + sizeof "/config.json" > cap)
        return 0;
    memcpy(buf, dir, dir_len);
    strcpy(buf + dir_len, "/config.json");
    *beside_file = 1;
    return sdc_is_file(buf);
}

/* scaling_factor of config `path` into *out (left alone when the key is absent). */
static sdc_status read_config(const char *path, int beside_file, float *out)
{
    json_t *cfg;
    sdc_status s = sdc_json_load_object(path, &cfg);
    if (s != SDC_OK)
        return s;
    const char *cls = json_string_value(json_object_get(cfg, "_class_name"));
    json_t *v = json_object_get(cfg, "scaling_factor");
    if (beside_file && !(cls && strcmp(cls, "AutoencoderKL") == 0))
        v = NULL; /* some other model's config next to a loose file */
    if (v) {
        double f = json_number_value(v);
        if (!json_is_number(v) || !isfinite(f) || f <= 0.0 || f > 1000.0)
            s = sdc_fail(SDC_ERR_FORMAT, "%s: scaling_factor is not a positive number", path);
        else
            *out = (float)f;
    }
    json_decref(cfg);
    return s;
}

sdc_status sdc_vae_find_scaling_factor(const sdc_checkpoint *ck, float *out)
{
    sdc_family f = sdc_checkpoint_family(ck);
    *out = f == SDC_FAMILY_SDXL ? SCALING_SDXL : f == SDC_FAMILY_SD2_X4 ? SCALING_X4 : SCALING_SD;
    const char *vae_path = sdc_checkpoint_vae_path(ck);
    if (!vae_path)
        vae_path = sdc_checkpoint_path(ck);
    char path[4096];
    int beside_file;
    if (!vae_path || !config_path(vae_path, path, sizeof path, &beside_file))
        return SDC_OK;
    return read_config(path, beside_file, out);
}
