/* A main() for the fuzz targets in normal builds: runs every file of the given folders (seed
 * corpora, and regressions: inputs that once crashed) through LLVMFuzzerTestOneInput once.
 * A crash, a sanitizer report, a leak or more than RSS_LIMIT_MB of memory fails the test. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

/* Peak memory one input may drive the process to (libFuzzer's own limit is 2 GB), so an
 * input that once made a reader allocate gigabytes fails here too. */
enum { RSS_LIMIT_MB = 1024 };

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    size_t got = data ? fread(data, 1, (size_t)(n > 0 ? n : 0), f) : 0;
    fclose(f);
    if (!data || got != (size_t)(n > 0 ? n : 0)) {
        free(data);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    LLVMFuzzerTestOneInput(data, got);
    free(data);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (ru.ru_maxrss / 1024 > RSS_LIMIT_MB) {
        fprintf(stderr, "replay: %s took the process to %ld MB (limit %d MB)\n", path,
                ru.ru_maxrss / 1024, RSS_LIMIT_MB);
        return -1;
    }
    return 0;
}

static int compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of a folder in name order (so runs are reproducible). */
static int run_dir(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* a target may have no regressions yet */
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown)
            abort();
        names = grown;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        if (r == 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            r = run_file(path);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int count = 0;
    for (int i = 1; i < argc; i++)
        if (run_dir(argv[i], &count) != 0)
            return 1;
    printf("replayed %d inputs\n", count);
    return 0;
}
