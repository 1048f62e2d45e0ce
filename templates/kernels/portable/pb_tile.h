#ifndef PB_TILE_H_
#define PB_TILE_H_

#include "pb_common.h"

/* The tile family's run-time kernels. TILE itself is strided copies (pb_move boxes); this
 * file holds BROADCAST_ARGS, the shape arithmetic of broadcasting.
 *
 * BROADCAST_ARGS: output[size_out - 1 - i] for i = 0.. from dimension i (counted from the
 * end) of shapes a and b, 1 past a shape's first dimension, read as int32 (an int64
 * dimension keeps its low 32 bits): b's when a's is 1, else a's. Each shape is run-time
 * input input_x of the call, or, when input_x is -1, the constant const_x. */
typedef struct {
    int32_t size_a, size_b, size_out;
    int32_t input_a, input_b;
    const void *const_a, *const_b;
} pb_broadcast_args_params_t;

void pb_broadcast_args_s32(const pb_broadcast_args_params_t *p, const void *const *inputs, int32_t *output);
void pb_broadcast_args_s64(const pb_broadcast_args_params_t *p, const void *const *inputs, int64_t *output);

#endif
