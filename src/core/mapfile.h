/* Read-only file mappings (DESIGN decision 2: weights are mapped, not copied). Not for writing. */
#ifndef SEEK_CORE_MAPFILE_H
#define SEEK_CORE_MAPFILE_H

#include <stddef.h>

#include "seek.h"

/* Maps the regular file at path read-only: *data and *size (an empty file maps to a NULL
 * *data and size 0). Errors name the path. */
seek_status seek_map_file(const char *path, const void **data, size_t *size);
void seek_unmap_file(const void *data, size_t size);

/* n bytes of zeroed anonymous memory (pages become resident when first written), aligned to
 * 2 MiB and backed by transparent huge pages where the kernel allows, so streaming through
 * it (the KV cache, repacked weights) misses the TLB far less; NULL when out of memory. Free
 * with seek_big_free(p, n). */
void *seek_big_alloc(size_t n);
void seek_big_free(void *p, size_t n);

#endif
