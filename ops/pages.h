/* Memory pages: what the first touch of a big buffer or of a mapped file costs, and how to
 * pay less for it. A page fault per 4 KiB page is the price of plain malloc and mmap; in a
 * virtual machine that keeps shadow page tables every fault (and the first access to every
 * newly mapped page) leaves the guest, tens of times dearer than on bare metal
 * (docs/PERFORMANCE.md, "First touch"). Big buffers therefore come in 2 MiB transparent
 * huge pages, mapped files are asked for huge pages too, and the weights a stage is about
 * to read can be mapped in bulk ahead of it. Everything here is a hint that may be refused:
 * without Linux's madvise flags the calls fall back to plain allocation and page touching. */
#ifndef SDC_OPS_PAGES_H
#define SDC_OPS_PAGES_H

#include <stddef.h>

/* Buffers of at least this many bytes are mapped in huge pages (smaller ones would waste
 * up to a huge page each). */
#define SDC_PAGES_HUGE_MIN ((size_t)4 << 20)

/* `bytes` of 64-byte aligned memory, not zeroed; NULL when out of memory. Buffers of
 * SDC_PAGES_HUGE_MIN or more are a private 2 MiB-aligned mapping advised for transparent
 * huge pages, so their first touch faults once per 2 MiB instead of once per 4 KiB. */
void *sdc_pages_alloc(size_t bytes);
/* Frees a buffer of sdc_pages_alloc; `bytes` must be the size it was asked for. Freed
 * huge-page buffers are kept, already faulted in, and serve the next big buffers of any
 * size (split, or moved into a bigger one) before any fresh memory is mapped, so they never
 * raise the resident peak above the most ever in use at once. */
void sdc_pages_free(void *p, size_t bytes);
/* Frees a buffer of sdc_pages_alloc without keeping it: for long-lived buffers whose
 * memory should leave the process when they go. */
void sdc_pages_free_now(void *p, size_t bytes);
/* Unmaps the freed buffers kept for reuse (at the end of a job, so that an idle process
 * holds only what is in use). */
void sdc_pages_trim(void);
/* Bytes of freed buffers kept for reuse. */
size_t sdc_pages_kept(void);

/* Asks that a read-only file mapping be mapped (and, when read from disk, cached) in huge
 * pages where the file system's page cache holds them. */
void sdc_pages_advise_huge(const void *addr, size_t len);

/* Maps the pages of [addr, addr + len) of a readable mapping into the page tables now, in
 * bulk (reading them from the file where they are not cached), instead of one fault at a
 * time on first use: MADV_POPULATE_READ (Linux 5.14+), else one read per page. The range
 * need not be page aligned: the pages it touches are mapped, and it must lie inside one
 * mapping. Returns the bytes of the page-rounded range, 0 for an empty range. */
size_t sdc_pages_populate(const void *addr, size_t len);

/* The size of a page (4096 on x86-64). */
size_t sdc_pages_size(void);

#endif
