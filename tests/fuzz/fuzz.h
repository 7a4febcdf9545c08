/* What every fuzz target shares: the libFuzzer entry points (also driven by replay.c in
 * normal builds) and inputs turned into files, since most readers take a path. */
#ifndef SDC_TESTS_FUZZ_FUZZ_H
#define SDC_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A path ("/proc/self/fd/N" of an in-memory file) whose content is data[0, size); the same
 * file is rewritten by every call. */
const char *fuzz_file(const uint8_t *data, size_t size);
/* data as a NUL-terminated string (malloc'd; embedded NULs end it early). */
char *fuzz_string(const uint8_t *data, size_t size);

#endif
