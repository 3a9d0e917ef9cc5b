/* Read-only file mappings (see mapfile.h). */
#include "core/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"

seek_status seek_map_file(const char *path, const void **data, size_t *size) {
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return seek_errorf(SEEK_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return seek_errorf(SEEK_ERR_IO, "'%s' is not a regular file", path);
    }
    const size_t n = (size_t)sb.st_size;
    void *p = n ? mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0) : NULL;
    close(fd);
    if (p == MAP_FAILED) return seek_errorf(SEEK_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
    *data = p;
    *size = n;
    return SEEK_OK;
}

void seek_unmap_file(const void *data, size_t size) {
    if (data) munmap((void *)data, size);
}

#define BIG_ALIGN ((size_t)2 << 20)

void *seek_big_alloc(size_t n) {
    if (n == 0 || n > SIZE_MAX - BIG_ALIGN) return NULL;
    /* map 2 MiB more, then trim both ends to a 2 MiB boundary */
    uint8_t *p = mmap(NULL, n + BIG_ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + BIG_ALIGN - 1) & ~(uintptr_t)(BIG_ALIGN - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    const size_t tail = (size_t)(p + n + BIG_ALIGN - (a + n));
    if (tail) munmap(a + n, tail);
#ifdef MADV_HUGEPAGE
    madvise(a, n, MADV_HUGEPAGE); /* a hint: without THP the pages are plain ones */
#endif
    return a;
}

void seek_big_free(void *p, size_t n) {
    if (p) munmap(p, n);
}
