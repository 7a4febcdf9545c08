/* First touch of memory (ops/pages.h, pipeline/prefetch.h): big buffers in huge pages,
 * mapped file ranges populated in bulk whatever their alignment and length, and the
 * pipeline's plan of the weight ranges to populate. Whether a page is mapped is read from
 * /proc/self/pagemap (bit 63: present in the page tables), not inferred from timings. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ops/arena.h"
#include "ops/pages.h"
#include "ops/weight.h"
#include "pipeline/prefetch.h"
#include "tests/golden.h"
#include "tests/st_write.h"
#include "weights/checkpoint.h"
#include "weights/safetensors.h"

static char path[256];

/* Whether the page holding `p` is present in this process's page tables. */
static int mapped(const void *p)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    cr_assert(fd >= 0);
    uint64_t entry = 0;
    off_t at = (off_t)((uintptr_t)p / sdc_pages_size() * sizeof entry);
    cr_assert_eq(pread(fd, &entry, sizeof entry, at), (ssize_t)sizeof entry);
    close(fd);
    return (int)(entry >> 63);
}

/* A file of `n` bytes (i % 251) mapped read-only, as a checkpoint is; *n_out its size. */
static const unsigned char *map_file(size_t n)
{
    snprintf(path, sizeof path, "/tmp/sdc_test_pages_%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    for (size_t i = 0; i < n; i++)
        fputc((int)(i % 251), f);
    fclose(f);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    cr_assert(m != MAP_FAILED);
    return m;
}

static void unmap_file(const unsigned char *m, size_t n)
{
    munmap((void *)m, n);
    unlink(path);
}

Test(pages, populate_maps_the_pages_a_short_unaligned_range_touches)
{
    size_t page = sdc_pages_size(), n = 64 * page;
    const unsigned char *m = map_file(n);
    /* 10 bytes straddling the boundary of pages 40 and 41: both, and nothing is read */
    cr_expect(!mapped(m + 40 * page) && !mapped(m + 41 * page), "fresh mapping: no page yet");
    cr_expect_eq(sdc_pages_populate(m + 41 * page - 5, 10), 2 * page);
    cr_expect(mapped(m + 40 * page) && mapped(m + 41 * page));
    /* one byte in the middle of page 20 */
    cr_expect_eq(sdc_pages_populate(m + 20 * page + 1234, 1), page);
    cr_expect(mapped(m + 20 * page));
    cr_expect_eq(m[20 * page + 1234], (unsigned char)((20 * page + 1234) % 251));
    unmap_file(m, n);
}

Test(pages, populate_of_a_file_end_that_is_no_whole_page)
{
    size_t page = sdc_pages_size(), n = 5 * page + 100; /* the last page is mostly past EOF */
    const unsigned char *m = map_file(n);
    cr_expect_eq(sdc_pages_populate(m + 5 * page + 50, 50), page);
    cr_expect(mapped(m + 5 * page));
    cr_expect_eq(m[n - 1], (unsigned char)((n - 1) % 251));
    cr_expect_eq(sdc_pages_populate(m + 3, n - 3), 6 * page); /* the whole file, unaligned */
    for (size_t p = 0; p < 6; p++)
        cr_expect(mapped(m + p * page), "page %zu", p);
    unmap_file(m, n);
}

Test(pages, populate_of_nothing_does_nothing)
{
    size_t page = sdc_pages_size();
    const unsigned char *m = map_file(4 * page);
    cr_expect_eq(sdc_pages_populate(m + 2 * page + 7, 0), 0);
    cr_expect(!mapped(m + 2 * page));
    cr_expect_eq(sdc_pages_populate(NULL, 100), 0);
    unmap_file(m, 4 * page);
}

Test(pages, buffers_are_aligned_writable_and_big_ones_start_on_a_huge_page)
{
    size_t sizes[] = {0, 1, 100, 4096 * 3 + 5, SDC_PAGES_HUGE_MIN - 64, SDC_PAGES_HUGE_MIN,
                      SDC_PAGES_HUGE_MIN + 12345};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = sdc_pages_alloc(sizes[i]);
        cr_assert(p, "%zu bytes", sizes[i]);
        cr_expect_eq((uintptr_t)p % 64, 0, "%zu bytes", sizes[i]);
        if (sizes[i] >= SDC_PAGES_HUGE_MIN)
            cr_expect_eq((uintptr_t)p % ((size_t)2 << 20), 0, "%zu bytes", sizes[i]);
        memset(p, 0x5a, sizes[i]);
        if (sizes[i])
            cr_expect_eq(p[sizes[i] - 1], 0x5a);
        sdc_pages_free(p, sizes[i]);
    }
    sdc_pages_free(NULL, 123);
    cr_expect_null(sdc_pages_alloc(SIZE_MAX - 100), "an impossible size is refused");
}

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

#define MIB ((size_t)1 << 20)

Test(pages, a_freed_big_buffer_serves_a_smaller_one_already_faulted_in)
{
    unsigned char *a = sdc_pages_alloc(24 * MIB);
    cr_assert(a);
    memset(a, 1, 24 * MIB);
    sdc_pages_free(a, 24 * MIB);
    cr_expect_eq(sdc_pages_kept(), 24 * MIB);
    unsigned char *b = sdc_pages_alloc(8 * MIB - 1000); /* rounds up to 8 MiB */
    cr_expect_eq(b, a, "the front of the kept buffer");
    cr_expect(all_bytes(b, 8 * MIB - 1000, 1), "its pages, not fresh zeroed ones");
    cr_expect_eq(sdc_pages_kept(), 16 * MIB, "the rest stays kept");
    sdc_pages_free(b, 8 * MIB - 1000);
}

Test(pages, kept_buffers_move_into_a_bigger_one_before_fresh_memory_is_mapped)
{
    unsigned char *a = sdc_pages_alloc(8 * MIB), *b = sdc_pages_alloc(6 * MIB);
    cr_assert(a && b);
    memset(a, 1, 8 * MIB);
    memset(b, 2, 6 * MIB);
    sdc_pages_free(a, 8 * MIB);
    sdc_pages_free(b, 6 * MIB);
    unsigned char *c = sdc_pages_alloc(20 * MIB);
    cr_assert(c);
    cr_expect_eq((uintptr_t)c % (2 * MIB), 0);
    cr_expect_eq(sdc_pages_kept(), 0, "all kept memory is used before any fresh memory");
    /* the largest kept buffer first, then the next, then fresh (zeroed) pages */
    cr_expect(all_bytes(c, 8 * MIB, 1));
    cr_expect(all_bytes(c + 8 * MIB, 6 * MIB, 2));
    cr_expect(all_bytes(c + 14 * MIB, 6 * MIB, 0));
    memset(c, 3, 20 * MIB);
    sdc_pages_free(c, 20 * MIB);
    cr_expect_eq(sdc_pages_kept(), 20 * MIB);
}

Test(pages, more_freed_buffers_than_slots_are_unmapped_and_every_buffer_still_works)
{
    enum { N = 80 };
    unsigned char *many[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            many[i] = sdc_pages_alloc((size_t)(4 + 2 * (i % 5)) * MIB);
            cr_assert(many[i]);
            memset(many[i], i, (size_t)(4 + 2 * (i % 5)) * MIB);
        }
        for (int i = 0; i < N; i++)
            sdc_pages_free(many[i], (size_t)(4 + 2 * (i % 5)) * MIB);
        cr_expect_leq(sdc_pages_kept(), (size_t)N * 12 * MIB);
    }
}

Test(pages, arena_blocks_in_huge_pages_keep_their_contents)
{
    sdc_arena a;
    sdc_arena_init(&a);
    float *x = sdc_arena_floats(&a, (size_t)3 << 20); /* 12 MiB: one huge-page block */
    cr_assert(x);
    cr_expect_eq((uintptr_t)x % 64, 0);
    for (size_t i = 0; i < ((size_t)3 << 20); i++)
        x[i] = (float)i;
    size_t mark = sdc_arena_mark(&a);
    float *y = sdc_arena_floats(&a, (size_t)5 << 20); /* a second block, dropped below */
    cr_assert(y);
    y[0] = 1.0f;
    sdc_arena_release(&a, mark);
    cr_expect_eq(x[12345], 12345.0f);
    sdc_arena_reset(&a);
    cr_assert(sdc_arena_floats(&a, (size_t)8 << 20), "the consolidated block holds the peak");
    sdc_arena_free(&a);
}

/* ---- a checkpoint's ranges and the pipeline's prefetch ----------------------------- */

/* Two f32 tensors "w.a", "w.b" of n / 2 values each, written to `path`. */
static void write_tensors(float *data, size_t n)
{
    snprintf(path, sizeof path, "/tmp/sdc_test_pages_%d.safetensors", (int)getpid());
    for (size_t i = 0; i < n; i++)
        data[i] = (float)i;
    sdc_tensor a = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {64, (int64_t)n / 128},
                    .data = data};
    sdc_tensor b = {.dtype = SDC_DTYPE_F32, .ndim = 2, .shape = {64, (int64_t)n / 128},
                    .data = data + n / 2};
    st_item items[] = {{"w.a", &a}, {"w.b", &b}};
    st_write(path, items, 2);
}

Test(pages, safetensors_populate_ignores_ranges_outside_its_mapping)
{
    size_t n = 64 * 1024;
    float *data = malloc(n * sizeof *data);
    write_tensors(data, n);
    sdc_safetensors *st;
    cr_assert_eq(sdc_safetensors_open(path, &st), SDC_OK, "%s", sdc_last_error());
    const sdc_st_entry *e = sdc_safetensors_find(st, "w.b");
    cr_assert(e);
    cr_expect_eq(sdc_safetensors_populate(st, data, 1000), 0, "not in the file");
    size_t file = sdc_safetensors_file_size(st);
    cr_expect_eq(sdc_safetensors_populate(st, e->tensor.data, file), 0, "runs past its end");
    cr_expect_gt(sdc_safetensors_populate(st, e->tensor.data, e->nbytes), 0);
    cr_expect(mapped(e->tensor.data));
    cr_expect(mapped((const char *)e->tensor.data + e->nbytes - 1));
    sdc_safetensors_close(st);
    unlink(path);
    free(data);
}

static sdc_layer layer_view(const void *data, int rows, int cols)
{
    return (sdc_layer){.w = {.rows = rows, .cols = cols, .dtype = SDC_DTYPE_F32, .data = data},
                       .in = cols, .k = 1};
}

Test(pages, prefetch_plan_merges_adjacent_views_and_skips_owned_weights)
{
    size_t page = sdc_pages_size();
    float *buf = sdc_pages_alloc(64 * page);
    float owned_data[16];
    sdc_layer layers[5] = {
        layer_view(buf, 4, 256),                            /* [0, 4 KiB) */
        layer_view(buf + 1024, 2, 100),                     /* right after it */
        layer_view(buf + 1024 + 200 + 3, 1, 8),             /* a few bytes further: same page */
        layer_view(buf + 8 * page / sizeof(float), 4, 256), /* pages later: a range of its own */
        layer_view(owned_data, 4, 4),
    };
    layers[4].w.owned = owned_data; /* held in memory: never the file's */
    sdc_layer_table t = {0};
    /* registered out of address order: the plan sorts them */
    const int order[5] = {3, 0, 4, 2, 1};
    const char *names[5] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(sdc_layer_table_add(&t, names[i], &layers[order[i]]), SDC_OK);
    sdc_prefetch pf;
    cr_assert_eq(sdc_prefetch_plan(&pf, NULL, &t), SDC_OK);
    cr_assert_eq(pf.count, 2);
    cr_expect_eq(pf.ranges[0].data, buf);
    cr_expect_eq(pf.ranges[0].nbytes, (1024 + 200 + 3 + 8) * sizeof(float));
    cr_expect_eq(pf.ranges[1].data, buf + 8 * page / sizeof(float));
    cr_expect_eq(pf.ranges[1].nbytes, 4 * 256 * sizeof(float));
    cr_expect_eq(sdc_prefetch_join(&pf), 0, "never started: nothing populated");
    cr_expect_eq(sdc_prefetch_join(&pf), 0, "joined twice");
    sdc_layer_table_free(&t);
    sdc_pages_free(buf, 64 * page);
}

/* The UNet tensors of the golden tiny model as layer views, as the UNet loads them. */
static sdc_layer *unet_views(const sdc_checkpoint *ck, sdc_layer_table *t, size_t *count)
{
    *count = sdc_checkpoint_count(ck, SDC_COMPONENT_UNET);
    sdc_layer *layers = calloc(*count, sizeof *layers);
    cr_assert(layers);
    for (size_t i = 0; i < *count; i++) {
        const sdc_tensor *tensor;
        const char *name = sdc_checkpoint_name_at(ck, SDC_COMPONENT_UNET, i, &tensor);
        int64_t numel = sdc_tensor_numel(tensor);
        cr_assert_eq(sdc_weight_load(&layers[i].w, tensor, 1, (int)numel, name), SDC_OK);
        cr_assert_eq(sdc_layer_table_add(t, name, &layers[i]), SDC_OK);
    }
    return layers;
}

Test(pages, prefetch_maps_the_weights_and_a_release_after_the_join_stays_released)
{
    sdc_checkpoint *ck = NULL;
    cr_assert_eq(sdc_checkpoint_open(golden_path("models/tiny-sd1/model.safetensors"), &ck),
                 SDC_OK, "%s", sdc_last_error());
    sdc_layer_table t = {0};
    size_t count;
    sdc_layer *layers = unet_views(ck, &t, &count);
    sdc_prefetch pf;
    cr_assert_eq(sdc_prefetch_plan(&pf, ck, &t), SDC_OK);
    cr_assert_geq(pf.count, 1);
    size_t planned = 0;
    for (size_t i = 0; i < pf.count; i++)
        planned += pf.ranges[i].nbytes;
    sdc_prefetch_start(&pf);
    size_t populated = sdc_prefetch_join(&pf);
    cr_expect_geq(populated, planned, "populated %zu of %zu bytes", populated, planned);
    size_t page = sdc_pages_size(), absent = 0, present = 0;
    for (size_t i = 0; i < count; i++)
        absent += !mapped(layers[i].w.data);
    cr_expect_eq(absent, 0, "%zu of %zu weights not mapped after the prefetch", absent, count);
    sdc_checkpoint_release(ck, SDC_COMPONENT_UNET);
    for (size_t i = 0; i < count; i++) { /* whole pages inside a weight: released */
        uintptr_t lo = (uintptr_t)layers[i].w.data, hi = lo + sdc_weight_bytes(&layers[i].w);
        for (uintptr_t p = (lo + page - 1) / page * page; p + page <= hi; p += page)
            present += mapped((const void *)p);
    }
    cr_expect_eq(present, 0, "%zu released pages mapped again", present);
    free(layers);
    sdc_layer_table_free(&t);
    sdc_checkpoint_close(ck);
}
