#ifndef FUNDQ_CZLIB_SHIM_H
#define FUNDQ_CZLIB_SHIM_H
#include <zlib.h>

/* A typed wrapper: the mode string is fixed (read, binary). */
static inline gzFile fundq_gzdopen(int fd) {
    return gzdopen(fd, "rb");
}
#endif
