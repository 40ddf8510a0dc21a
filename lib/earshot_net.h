/* earshot_net.h — recurrent frame classifiers: layers, streaming step,
 * sequence forward and backward (BPTT) for training.
 *
 * A net is a stack of layers: any number of recurrent layers (Elman RNN,
 * GRU, LSTM) and dense layers, ending in a dense layer with softmax.  All
 * parameters live in one contiguous float array (earshot_net_params), so
 * optimisers and file I/O are flat loops; gradients use the same layout.
 *
 * Streaming use (the element, earshot_stream):
 *
 *   float *state   = calloc (earshot_net_state_size (net), sizeof (float));
 *   float *scratch = malloc (earshot_net_scratch_size (net) * sizeof (float));
 *   for each frame x:
 *     earshot_net_step (net, x, state, scratch, probs);   // probs: n_outputs
 *
 * Training use (earshot_train):
 *
 *   earshot_net_workspace *ws;
 *   earshot_net_workspace_new (net, T, B, &ws);
 *   earshot_net_forward_seq (net, ws, x, T, B, state0, state_out, &opts, NULL);
 *   double loss = earshot_net_backward_seq (net, ws, targets, weights, grad,
 *                                           &n_correct, &n_counted);
 *
 * Parameter layout, per layer in order, each matrix row-major, gates fused:
 *   DENSE: W [O x I], b [O]                         y = act(W x + b)
 *   RNN:   W [H x I], U [H x H], b [H]             h' = tanh(W x + U h + b)
 *   GRU:   W [3H x I], U [3H x H], bW [3H], bU [3H]; gate rows z, r, n:
 *          z = sig(Wz x + bWz + Uz h + bUz), r = sig(Wr x + bWr + Ur h + bUr),
 *          n = tanh(Wn x + bWn + r * (Un h + bUn)),  h' = (1 - z) * n + z * h
 *   LSTM:  W [4H x I], U [4H x H], b [4H]; gate rows i, f, g, o:
 *          c' = sig(f) * c + sig(i) * tanh(g),  h' = sig(o) * tanh(c')
 *
 * State layout (earshot_net_state_size floats per stream): for each recurrent
 * layer in order, h [H], then for LSTM c [H].  All zeros is the initial state.
 *
 * Thread safety: a net is read-only during step/forward/backward and may be
 * shared; a workspace, a state and a scratch buffer belong to one thread.
 */
#ifndef EARSHOT_NET_H
#define EARSHOT_NET_H

#include "earshot.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  EARSHOT_LAYER_DENSE = 1,
  EARSHOT_LAYER_RNN = 2,
  EARSHOT_LAYER_GRU = 3,
  EARSHOT_LAYER_LSTM = 4,
} earshot_layer_type;

typedef enum {
  EARSHOT_ACT_LINEAR = 0,
  EARSHOT_ACT_TANH = 1,
  EARSHOT_ACT_RELU = 2,
  EARSHOT_ACT_SOFTMAX = 3,  /* dense only, and only as the last layer */
} earshot_activation;

typedef struct {
  earshot_layer_type type;
  uint32_t n_in;                /* input width; must equal the previous n_out */
  uint32_t n_out;               /* units (H for recurrent layers) */
  earshot_activation activation;/* dense layers only; ignored (0) otherwise */
} earshot_layer_spec;

/* Limits the loader and earshot_net_new enforce. */
#define EARSHOT_NET_MAX_LAYERS 64
#define EARSHOT_NET_MAX_UNITS 65536u
#define EARSHOT_NET_MAX_PARAMS (1u << 28)

typedef struct earshot_net earshot_net;

/* Creates a net with the given layers (copied) and all parameters zero.
 * Checks: 1..EARSHOT_NET_MAX_LAYERS layers, 1..EARSHOT_NET_MAX_UNITS units,
 * chained widths, last layer dense softmax with n_out >= 2, softmax nowhere
 * else, total parameters <= EARSHOT_NET_MAX_PARAMS. */
EARSHOT_API earshot_status earshot_net_new (const earshot_layer_spec *layers,
    size_t n_layers, earshot_net **out, char *err, size_t err_size);

/* Convenience: n_layers recurrent layers of `cell` with `hidden` units over
 * `n_in` inputs, then a dense softmax of n_classes. */
EARSHOT_API earshot_status earshot_net_new_stack (earshot_layer_type cell,
    uint32_t n_in, uint32_t hidden, uint32_t n_layers, uint32_t n_classes,
    earshot_net **out, char *err, size_t err_size);

/* A deep copy (layers and parameters). */
EARSHOT_API earshot_status earshot_net_copy (const earshot_net *net,
    earshot_net **out);

/* Frees; NULL is a no-op. */
EARSHOT_API void earshot_net_free (earshot_net *net);

/* Initialises parameters deterministically from `seed`: Glorot-uniform input
 * weights, uniform(+-1/sqrt(H)) recurrent weights, zero biases except the
 * LSTM forget gate bias = 1. */
EARSHOT_API void earshot_net_init (earshot_net *net, uint64_t seed);

EARSHOT_API size_t earshot_net_n_layers (const earshot_net *net);
EARSHOT_API const earshot_layer_spec *earshot_net_layer (const earshot_net *net,
    size_t i);
EARSHOT_API uint32_t earshot_net_n_inputs (const earshot_net *net);
EARSHOT_API uint32_t earshot_net_n_outputs (const earshot_net *net);

/* Parameters of layer `i` alone, and where they start in the flat array. */
EARSHOT_API size_t earshot_net_layer_n_params (const earshot_net *net, size_t i);
EARSHOT_API size_t earshot_net_layer_offset (const earshot_net *net, size_t i);

/* The flat parameter array (earshot_net_n_params floats), owned by the net. */
EARSHOT_API size_t earshot_net_n_params (const earshot_net *net);
EARSHOT_API float *earshot_net_params (earshot_net *net);
EARSHOT_API const float *earshot_net_params_const (const earshot_net *net);

/* Parameter count of a layer spec, or 0 if the spec is invalid. */
EARSHOT_API size_t earshot_layer_spec_n_params (const earshot_layer_spec *spec);

/* Floats of recurrent state per stream, and of scratch for earshot_net_step. */
EARSHOT_API size_t earshot_net_state_size (const earshot_net *net);
EARSHOT_API size_t earshot_net_scratch_size (const earshot_net *net);

/* One time step: x [n_inputs] in, state [state_size] updated in place,
 * probs [n_outputs] out (softmax).  scratch: scratch_size floats.  No
 * allocation, lock or I/O. */
EARSHOT_API void earshot_net_step (const earshot_net *net, const float *x,
    float *state, float *scratch, float *probs);

/* ---- Training ---------------------------------------------------------- */

typedef struct earshot_net_workspace earshot_net_workspace;

/* Options of a training forward pass. */
typedef struct {
  float dropout;    /* probability of zeroing each input of every layer after
                       the first (inverted dropout); 0 disables */
  uint64_t seed;    /* dropout mask seed; same seed, same mask */
} earshot_net_train_opts;

/* A workspace holds every activation of a forward pass over up to max_t
 * steps of max_b sequences, for the backward pass. */
EARSHOT_API earshot_status earshot_net_workspace_new (const earshot_net *net,
    size_t max_t, size_t max_b, earshot_net_workspace **out);
EARSHOT_API void earshot_net_workspace_free (earshot_net_workspace *ws);

/* Sequence forward over a batch.  x: [T x B x n_inputs], time-major (frame t
 * of sequence b at x + (t * B + b) * n_inputs).  state0: [B x state_size]
 * initial states (NULL: zeros).  state_out: [B x state_size] receives the
 * states after step T-1 (NULL: not wanted); it may alias state0.  opts: NULL
 * means no dropout (inference).  probs: [T x B x n_outputs] softmax outputs
 * (NULL: not wanted; they stay in the workspace for the backward pass).
 * The input projections of all T*B frames are one GEMM per layer.
 * EARSHOT_ERR_INVALID if T or B exceed the workspace. */
EARSHOT_API earshot_status earshot_net_forward_seq (const earshot_net *net,
    earshot_net_workspace *ws, const float *x, size_t t, size_t b,
    const float *state0, float *state_out, const earshot_net_train_opts *opts,
    float *probs);

/* Backward pass of the last forward_seq: the weighted mean cross-entropy
 *   L = sum_{t,b} w[y] * -log p[t,b,y]  /  sum_{t,b} w[y]
 * over frames whose target y = targets[t * B + b] is >= 0 (negative targets
 * are ignored).  class_weights: [n_outputs], NULL for all 1.  ADDS dL/dparams
 * to grad [n_params] (the caller zeroes it).  Gradients do not flow into
 * state0 (truncated BPTT).  Returns L (0 when no frame counts).  n_correct
 * and n_counted (either may be NULL) receive the number of counted frames
 * whose argmax equals the target, and the number of counted frames. */
EARSHOT_API double earshot_net_backward_seq (const earshot_net *net,
    earshot_net_workspace *ws, const int32_t *targets,
    const float *class_weights, float *grad, size_t *n_correct,
    size_t *n_counted);

#ifdef __cplusplus
}
#endif

#endif /* EARSHOT_NET_H */
