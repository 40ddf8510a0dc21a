/* io.c — little-endian output buffers and whole-file reads and atomic
 * writes, shared by the model file (model.c) and checkpoints (train.c). */
#include "earshot_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

unsigned char *
earshot_buf_reserve (earshot_buf *b, size_t n)
{
  if (b->failed)
    return NULL;
  if (n > SIZE_MAX / 2 - b->len) {
    b->failed = true;
    return NULL;
  }
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
      cap *= 2;
    unsigned char *d = realloc (b->data, cap);
    if (d == NULL) {
      b->failed = true;
      return NULL;
    }
    b->data = d;
    b->cap = cap;
  }
  unsigned char *p = b->data + b->len;
  b->len += n;
  return p;
}

void
earshot_buf_put (earshot_buf *b, const void *src, size_t n)
{
  unsigned char *p = earshot_buf_reserve (b, n);
  if (p != NULL && n > 0)
    memcpy (p, src, n);
}

static void
enc_u32 (unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char) v;
  p[1] = (unsigned char) (v >> 8);
  p[2] = (unsigned char) (v >> 16);
  p[3] = (unsigned char) (v >> 24);
}

void
earshot_buf_put_u16 (earshot_buf *b, uint16_t v)
{
  unsigned char *p = earshot_buf_reserve (b, 2);
  if (p != NULL) {
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
  }
}

void
earshot_buf_put_u32 (earshot_buf *b, uint32_t v)
{
  unsigned char *p = earshot_buf_reserve (b, 4);
  if (p != NULL)
    enc_u32 (p, v);
}

void
earshot_buf_put_u64 (earshot_buf *b, uint64_t v)
{
  earshot_buf_put_u32 (b, (uint32_t) v);
  earshot_buf_put_u32 (b, (uint32_t) (v >> 32));
}

void
earshot_buf_put_f32s (earshot_buf *b, const float *v, size_t n)
{
  if (n > SIZE_MAX / 8) {
    b->failed = true;
    return;
  }
  unsigned char *p = earshot_buf_reserve (b, n * 4);
  if (p == NULL)
    return;
  for (size_t k = 0; k < n; k++) {
    uint32_t u;
    memcpy (&u, &v[k], sizeof u);
    enc_u32 (p + 4 * k, u);
  }
}

earshot_status
earshot_write_file_atomic (const char *path, const void *data, size_t size,
    char *err, size_t err_size)
{
  static const char suffix[] = ".tmp.XXXXXX";
  earshot_status st;
  size_t plen = strlen (path);
  char *tmp = malloc (plen + sizeof suffix);
  if (tmp == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM, "out of memory");
  memcpy (tmp, path, plen);
  memcpy (tmp + plen, suffix, sizeof suffix);

  int fd = mkstemp (tmp);
  if (fd < 0) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_IO, "cannot create %s: %s",
        tmp, strerror (errno));
    free (tmp);
    return st;
  }
  (void) fchmod (fd, 0644);
  const unsigned char *p = data;
  size_t left = size;
  while (left > 0) {
    ssize_t w = write (fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      st = earshot_fail (err, err_size, EARSHOT_ERR_IO, "cannot write %s: %s",
          tmp, strerror (w < 0 ? errno : EIO));
      close (fd);
      unlink (tmp);
      free (tmp);
      return st;
    }
    p += w;
    left -= (size_t) w;
  }
  if (fsync (fd) != 0) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_IO, "cannot write %s: %s",
        tmp, strerror (errno));
    close (fd);
    unlink (tmp);
    free (tmp);
    return st;
  }
  if (close (fd) != 0 || rename (tmp, path) != 0) {
    st = earshot_fail (err, err_size, EARSHOT_ERR_IO, "cannot write %s: %s",
        path, strerror (errno));
    unlink (tmp);
    free (tmp);
    return st;
  }
  free (tmp);

  /* Make the rename itself durable; a folder that cannot be opened or
   * synced (some file systems) leaves the file written all the same. */
  char *dir = malloc (plen + 2);
  if (dir != NULL) {
    memcpy (dir, path, plen + 1);
    char *slash = strrchr (dir, '/');
    if (slash == NULL)
      strcpy (dir, ".");
    else if (slash == dir)
      dir[1] = '\0';
    else
      *slash = '\0';
    int dfd = open (dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      (void) fsync (dfd);
      close (dfd);
    }
    free (dir);
  }
  return EARSHOT_OK;
}

earshot_status
earshot_read_file (const char *path, size_t max_size, unsigned char **data,
    size_t *size, char *err, size_t err_size)
{
  *data = NULL;
  *size = 0;
  FILE *fp = fopen (path, "rb");
  if (fp == NULL)
    return earshot_fail (err, err_size, EARSHOT_ERR_IO, "cannot open %s: %s",
        path, strerror (errno));
  struct stat sb;
  if (fstat (fileno (fp), &sb) != 0 || !S_ISREG (sb.st_mode)) {
    fclose (fp);
    return earshot_fail (err, err_size, EARSHOT_ERR_IO,
        "%s is not a regular file", path);
  }
  if ((uint64_t) sb.st_size > (uint64_t) max_size) {
    fclose (fp);
    return earshot_fail (err, err_size, EARSHOT_ERR_FORMAT,
        "%s: %lld bytes is more than such a file may be (%zu)", path,
        (long long) sb.st_size, max_size);
  }
  size_t n = (size_t) sb.st_size;
  unsigned char *buf = malloc (n > 0 ? n : 1);
  if (buf == NULL) {
    fclose (fp);
    return earshot_fail (err, err_size, EARSHOT_ERR_NOMEM,
        "out of memory for %zu bytes of %s", n, path);
  }
  size_t got = fread (buf, 1, n, fp);
  bool bad = ferror (fp) != 0;
  fclose (fp);
  if (bad || got != n) {
    free (buf);
    return earshot_fail (err, err_size, EARSHOT_ERR_IO, "cannot read %s%s",
        path, bad ? "" : ": it changed size while being read");
  }
  *data = buf;
  *size = n;
  return EARSHOT_OK;
}
