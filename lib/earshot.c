/* earshot.c — status strings and version. */
#include "earshot.h"
#include "earshot_private.h"

#include <pthread.h>
#include <stdio.h>

const char *
earshot_status_str (earshot_status status)
{
  switch (status) {
    case EARSHOT_OK: return "success";
    case EARSHOT_ERR_NOMEM: return "out of memory";
    case EARSHOT_ERR_IO: return "input/output error";
    case EARSHOT_ERR_FORMAT: return "malformed data";
    case EARSHOT_ERR_VERSION: return "unsupported format version";
    case EARSHOT_ERR_CHECKSUM: return "checksum mismatch";
    case EARSHOT_ERR_INVALID: return "invalid argument";
    case EARSHOT_ERR_UNSUPPORTED: return "not supported";
  }
  return "unknown status";
}

const char *
earshot_version (void)
{
  return EARSHOT_VERSION_STRING;
}

earshot_status
earshot_fail (char *err, size_t err_size, earshot_status status,
    const char *fmt, ...)
{
  if (err != NULL && err_size > 0) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err, err_size, fmt, ap);
    va_end (ap);
  }
  return status;
}

/* Table-driven CRC-32, table built once; the polynomial is the reflected
 * 0x04C11DB7. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_table_init (void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t
earshot_crc32 (uint32_t crc, const void *data, size_t n)
{
  const unsigned char *p = data;

  pthread_once (&crc_once, crc_table_init);
  crc = ~crc;
  while (n--)
    crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}
