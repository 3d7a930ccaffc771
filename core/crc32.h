/* CRC-32 (gzip's, zlib's crc32) of the bytes a writer writes (core/crc32.c). */
#ifndef LACUNA_CRC32_H
#define LACUNA_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* zlib's crc32(crc, buf, len): the CRC of the bytes so far (0 to start)
 * extended by buf[0..len). */
uint32_t lacuna_crc32(uint32_t crc, const void *buf, size_t len);

#endif
