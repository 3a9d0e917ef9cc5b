/* Read-only file mappings (see mapfile.h). */
#include "core/mapfile.h"

#include <errno.h>
#include <fcntl.h>
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
