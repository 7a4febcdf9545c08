/* The model hash cache (see hash_cache.h). */
#include "weights/hash_cache.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weights/sha256.h"

/* Entries kept; the oldest are dropped beyond this. */
#define MAX_ENTRIES 512
#define LINE_MAX_LEN (PATH_MAX + 128)

typedef struct file_id {
    char path[PATH_MAX];
    long long size, sec, nsec;
} file_id;

static int cache_dir(char *dir, size_t cap)
{
    const char *env = getenv("SDC_CACHE_DIR");
    if (env && *env)
        return snprintf(dir, cap, "%s", env) < (int)cap;
    env = getenv("XDG_CACHE_HOME");
    if (env && *env)
        return snprintf(dir, cap, "%s/sdc", env) < (int)cap;
    env = getenv("HOME");
    if (env && *env)
        return snprintf(dir, cap, "%s/.cache/sdc", env) < (int)cap;
    return 0;
}

static int identify(const char *path, file_id *id)
{
    struct stat st;
    if (!realpath(path, id->path) || stat(id->path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    id->size = (long long)st.st_size;
    id->sec = (long long)st.st_mtim.tv_sec;
    id->nsec = (long long)st.st_mtim.tv_nsec;
    return 1;
}

/* Parses "hex \t size \t sec.nsec \t path"; 1 when the line is well formed. */
static int parse_line(char *line, char hex[65], file_id *id)
{
    line[strcspn(line, "\n")] = '\0';
    int used = 0;
    if (sscanf(line, "%64[0-9a-f]\t%lld\t%lld.%lld\t%n", hex, &id->size, &id->sec, &id->nsec,
               &used) != 4 || used == 0 || strlen(hex) != 64)
        return 0;
    return snprintf(id->path, sizeof id->path, "%s", line + used) < (int)sizeof id->path;
}

static int same_file(const file_id *a, const file_id *b)
{
    return a->size == b->size && a->sec == b->sec && a->nsec == b->nsec &&
           strcmp(a->path, b->path) == 0;
}

static int lookup(const char *cache, const file_id *id, char hex[65])
{
    FILE *f = fopen(cache, "r");
    if (!f)
        return 0;
    char line[LINE_MAX_LEN], h[65];
    file_id e;
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = parse_line(line, h, &e) && same_file(&e, id);
    fclose(f);
    if (found)
        memcpy(hex, h, 65);
    return found;
}

/* mkdir -p: creates `dir` and its missing parents (errors are left to fopen). */
static void make_dirs(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return;
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    mkdir(path, 0755);
}

/* Rewrites the cache with this file's entry first and the other files' newest entries after
 * it, through a temporary file renamed into place (concurrent runs never see half a file). */
static void store(const char *dir, const char *cache, const file_id *id, const char hex[65])
{
    char tmp[PATH_MAX + 32];
    make_dirs(dir);
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", cache, (long)getpid()) >= (int)sizeof tmp)
        return;
    FILE *out = fopen(tmp, "w");
    if (!out)
        return;
    fprintf(out, "%s\t%lld\t%lld.%09lld\t%s\n", hex, id->size, id->sec, id->nsec, id->path);
    FILE *in = fopen(cache, "r");
    char line[LINE_MAX_LEN], h[65];
    file_id e;
    for (int kept = 1; in && kept < MAX_ENTRIES && fgets(line, sizeof line, in);)
        if (parse_line(line, h, &e) && strcmp(e.path, id->path) != 0) {
            fprintf(out, "%s\t%lld\t%lld.%09lld\t%s\n", h, e.size, e.sec, e.nsec, e.path);
            kept++;
        }
    if (in)
        fclose(in);
    if (fclose(out) != 0 || rename(tmp, cache) != 0)
        remove(tmp);
}

sdc_status sdc_file_sha256_cached(const char *path, char hex[65])
{
    char dir[PATH_MAX], cache[PATH_MAX + 16];
    file_id id;
    int cached = identify(path, &id) && cache_dir(dir, sizeof dir) &&
                 snprintf(cache, sizeof cache, "%s/hashes.tsv", dir) < (int)sizeof cache;
    if (cached && lookup(cache, &id, hex))
        return SDC_OK;
    uint8_t digest[32];
    sdc_status s = sdc_sha256_file(path, digest);
    if (s != SDC_OK)
        return s;
    sdc_sha256_hex(digest, hex);
    if (cached)
        store(dir, cache, &id, hex);
    return SDC_OK;
}
