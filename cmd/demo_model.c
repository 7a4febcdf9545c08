#include "cmd/demo_model.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/error.h"

/* Folders above the executable searched for models/demo: build-x/cmd/sdc lives two below the
 * source root, a build folder nested one deeper three. */
enum { TREE_LEVELS = 3 };

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir + "/" + rel + "/" SDC_DEMO_FILE into buf when that file exists. */
static int try_dir(char *buf, size_t cap, const char *dir, const char *rel)
{
    char path[PATH_MAX], resolved[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s%s%s/" SDC_DEMO_FILE, dir, rel[0] ? "/" : "", rel);
    if (n <= 0 || (size_t)n >= sizeof path || !is_file(path))
        return 0;
    const char *found = realpath(path, resolved) ? resolved : path; /* without the "../" */
    size_t len = strlen(found);
    if (len >= cap)
        return 0;
    memcpy(buf, found, len + 1);
    return 1;
}

/* The folder of the running executable into dir; 0 when unknown. */
static int exe_dir(char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    if (n <= 0 || (size_t)n >= cap - 1)
        return 0;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    return 1;
}

static int find_near_executable(char *buf, size_t cap)
{
    char dir[PATH_MAX], rel[64] = "";
    if (!exe_dir(dir, sizeof dir))
        return 0;
    for (int up = 1; up <= TREE_LEVELS; up++) {
        strcat(rel, "../");
        char sub[96];
        snprintf(sub, sizeof sub, "%smodels/demo", rel);
        if (try_dir(buf, cap, dir, sub))
            return 1;
    }
    return try_dir(buf, cap, dir, "../share/sdc/demo");
}

sdc_status sdc_demo_model_find(char *buf, size_t cap)
{
    const char *env = getenv("SDC_DEMO_DIR");
    if (env && env[0]) {
        if (try_dir(buf, cap, env, ""))
            return SDC_OK;
        return sdc_fail(SDC_ERR_IO, "SDC_DEMO_DIR '%s' holds no " SDC_DEMO_FILE, env);
    }
    if (find_near_executable(buf, cap) || try_dir(buf, cap, SDC_DEMO_INSTALL_DIR, "") ||
        try_dir(buf, cap, SDC_DEMO_SOURCE_DIR, ""))
        return SDC_OK;
    return sdc_fail(SDC_ERR_IO, "the built-in demo model is not installed (looked in models/demo "
                    "near the sdc executable, in " SDC_DEMO_INSTALL_DIR " and in the source "
                    "tree sdc was built from, " SDC_DEMO_SOURCE_DIR "; set SDC_DEMO_DIR to the "
                    "folder holding " SDC_DEMO_FILE ", or give a model with -m)");
}

sdc_status sdc_demo_model_apply(sdc_cli_options *opt, char *buf, size_t cap, int announce)
{
    if (opt->model && strcmp(opt->model, SDC_DEMO_MODEL_NAME) != 0)
        return SDC_OK;
    sdc_status s = sdc_demo_model_find(buf, cap);
    if (s != SDC_OK)
        return s;
    opt->model = buf;
    if (announce && !opt->quiet)
        fprintf(stderr, "sdc: using the built-in demo model (%s)\n", buf);
    if (!opt->width_given)
        opt->gen.width = SDC_DEMO_SIZE;
    if (!opt->height_given)
        opt->gen.height = SDC_DEMO_SIZE;
    return SDC_OK;
}
