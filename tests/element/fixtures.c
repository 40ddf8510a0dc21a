/* fixtures.c — writes what the examples test runs on: DIR/tone.earshot (the
 * tone detector of models.c) and DIR/tone.wav (16 kHz 16-bit mono: 1 s of
 * silence, 1 s of a 1 kHz tone at half scale, 0.5 s of silence).
 *
 *   earshot-example-fixtures DIR
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

#define RATE 16000u

static void
put16 (unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char) (v & 0xff);
  p[1] = (unsigned char) ((v >> 8) & 0xff);
}

static void
put32 (unsigned char *p, uint32_t v)
{
  put16 (p, v & 0xffff);
  put16 (p + 2, v >> 16);
}

static int
write_wav (const char *path)
{
  const uint32_t n = RATE * 5 / 2;
  const uint32_t bytes = n * 2;
  unsigned char header[44];
  FILE *f = fopen (path, "wb");
  int ok;

  if (f == NULL) {
    fprintf (stderr, "%s: %s\n", path, strerror (errno));
    return -1;
  }
  memcpy (header, "RIFF", 4);
  put32 (header + 4, 36 + bytes);
  memcpy (header + 8, "WAVEfmt ", 8);
  put32 (header + 16, 16);
  put16 (header + 20, 1);       /* PCM */
  put16 (header + 22, 1);       /* mono */
  put32 (header + 24, RATE);
  put32 (header + 28, RATE * 2);
  put16 (header + 32, 2);
  put16 (header + 34, 16);
  memcpy (header + 36, "data", 4);
  put32 (header + 40, bytes);
  ok = fwrite (header, sizeof header, 1, f) == 1;
  for (uint32_t i = 0; i < n && ok; i++) {
    double x = (i >= RATE && i < 2 * RATE) ?
        0.5 * sin (2.0 * M_PI * TEST_TONE_HZ * (i - RATE) / RATE) : 0.0;
    unsigned char s[2];
    put16 (s, (uint32_t) (uint16_t) (int16_t) lrint (x * 32767.0));
    ok = fwrite (s, 2, 1, f) == 1;
  }
  if (fclose (f) != 0)
    ok = 0;
  if (!ok) {
    fprintf (stderr, "%s: write failed\n", path);
    return -1;
  }
  return 0;
}

int
main (int argc, char **argv)
{
  char model[4096], wav[4096];

  if (argc != 2) {
    fprintf (stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  snprintf (model, sizeof model, "%s/tone.earshot", argv[1]);
  snprintf (wav, sizeof wav, "%s/tone.wav", argv[1]);
  if (test_model_write_tone (model) != 0 || write_wav (wav) != 0)
    return 1;
  return 0;
}
