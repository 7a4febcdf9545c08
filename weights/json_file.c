#include "weights/json_file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/error.h"

sdc_status sdc_json_load_object(const char *path, json_t **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sdc_fail(SDC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode) || (unsigned long long)sb.st_size > SDC_JSON_FILE_MAX)
        return sdc_fail(SDC_ERR_FORMAT, "%s: not a regular file of at most %u bytes", path,
                        SDC_JSON_FILE_MAX);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        return sdc_fail(SDC_ERR_FORMAT, "%s: not valid JSON (line %d: %s)", path, err.line,
                        err.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sdc_fail(SDC_ERR_FORMAT, "%s: not a JSON object", path);
    }
    *out = root;
    return SDC_OK;
}

int sdc_path_join(char *buf, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap;
}

int sdc_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}
