/* Read-only file mappings (DESIGN decision 2: weights are mapped, not copied). Not for writing. */
#ifndef SEEK_CORE_MAPFILE_H
#define SEEK_CORE_MAPFILE_H

#include <stddef.h>

#include "seek.h"

/* Maps the regular file at path read-only: *data and *size (an empty file maps to a NULL
 * *data and size 0). Errors name the path. */
seek_status seek_map_file(const char *path, const void **data, size_t *size);
void seek_unmap_file(const void *data, size_t size);

#endif
