/* earshot_net_private.h — what the two halves of the net module share; not
 * installed.  net.c holds the layer stack and everything a stream runs
 * (construction, the streaming step, the forward kernels); net_seq.c the
 * batched sequence passes that training runs (forward and BPTT), the only
 * code in the core that calls CBLAS.  Split so that the plugin, which
 * links only what the step needs, does not load OpenBLAS: its worker
 * thread spins for about 0.1 s of CPU in every process that loads it. */
#ifndef EARSHOT_NET_PRIVATE_H
#define EARSHOT_NET_PRIVATE_H

#include "earshot_net.h"
#include "earshot_private.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct earshot_net {
  size_t n_layers;
  earshot_layer_spec layers[EARSHOT_NET_MAX_LAYERS];
  size_t offset[EARSHOT_NET_MAX_LAYERS];    /* first parameter of each layer */
  size_t state_off[EARSHOT_NET_MAX_LAYERS]; /* first state float of each
                                               recurrent layer (0 for dense) */
  size_t n_params;
  size_t state_size;
  size_t scratch_size;
  size_t max_out;   /* widest layer output: one half of the step ping-pong */
  float *params;    /* [n_params], owned */
};

static inline size_t
max_sz (size_t a, size_t b)
{
  return a > b ? a : b;
}

/* splitmix64's output function: a bijective 64-bit mixer. */
static inline uint64_t
mix64 (uint64_t z)
{
  z += 0x9e3779b97f4a7c15u;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* ---- Layer geometry ---------------------------------------------------- */

static inline size_t
n_gates (earshot_layer_type type)
{
  switch (type) {
    case EARSHOT_LAYER_DENSE: return 1;
    case EARSHOT_LAYER_RNN: return 1;
    case EARSHOT_LAYER_GRU: return 3;
    case EARSHOT_LAYER_LSTM: return 4;
  }
  return 0;
}

static inline bool
is_recurrent (earshot_layer_type type)
{
  return type == EARSHOT_LAYER_RNN || type == EARSHOT_LAYER_GRU
      || type == EARSHOT_LAYER_LSTM;
}

/* Offsets of a layer's matrices inside its parameter slice.  Only for
 * validated specs (every product below fits: the total is <= 2^28). */
typedef struct {
  size_t w;   /* W [GH x I] */
  size_t u;   /* U [GH x H] (recurrent) */
  size_t b;   /* b [GH] (GRU: bW) */
  size_t bu;  /* GRU: bU [3H] */
  size_t n;   /* floats in the layer */
} layer_parts;

static inline layer_parts
parts_of (const earshot_layer_spec *s)
{
  size_t i = s->n_in, h = s->n_out, gh = n_gates (s->type) * h;
  layer_parts p;
  p.w = 0;
  if (s->type == EARSHOT_LAYER_DENSE) {
    p.u = p.bu = 0;
    p.b = gh * i;
    p.n = p.b + gh;
  } else {
    p.u = gh * i;
    p.b = p.u + gh * h;
    p.bu = p.b + gh;
    p.n = p.bu + (s->type == EARSHOT_LAYER_GRU ? gh : 0);
  }
  return p;
}

/* ---- Kernels net.c defines for both halves (comments there) ---------- */

EARSHOT_INTERNAL void earshot_net_activate (float *y, size_t rows, size_t n,
    earshot_activation act);
EARSHOT_INTERNAL void earshot_net_rnn_forward_gates (size_t rows, size_t h,
    float *x, const float *bias);
EARSHOT_INTERNAL void earshot_net_lstm_forward_gates (size_t rows, size_t h,
    float *a, const float *bias, const float *cp, float *cn, float *hn);
EARSHOT_INTERNAL void earshot_net_gru_forward_gates (size_t rows, size_t h,
    float *a, const float *v, const float *bw, const float *bu,
    const float *hp, float *hn, float *un);

#endif /* EARSHOT_NET_PRIVATE_H */
