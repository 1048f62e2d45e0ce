/* BROADCAST_ARGS (see pb_tile.h). */
#include "pb_tile.h"

/* Dimension `back` (from the end) of a shape of `size` elements of es bytes, as int32. */
static int32_t pb_shape_dim(const void *shape, int32_t size, int32_t back, int32_t es)
{
    const int32_t at = size - 1 - back;
    if (at < 0) {
        return 1;
    }
    if (es == 4) {
        return ((const int32_t *)shape)[at];
    }
    return (int32_t)(uint32_t)(uint64_t)((const int64_t *)shape)[at];
}

/* The broadcast dimension `back` of the params' two shapes. */
static int32_t pb_broadcast_dim(const pb_broadcast_args_params_t *p, const void *const *inputs, int32_t back,
                                int32_t es)
{
    const void *a = p->input_a >= 0 ? inputs[p->input_a] : p->const_a;
    const void *b = p->input_b >= 0 ? inputs[p->input_b] : p->const_b;
    const int32_t da = pb_shape_dim(a, p->size_a, back, es);
    const int32_t db = pb_shape_dim(b, p->size_b, back, es);
    return da == 1 ? db : da;
}

void pb_broadcast_args_s32(const pb_broadcast_args_params_t *p, const void *const *inputs, int32_t *output)
{
    int32_t i;
    for (i = 0; i < p->size_out; ++i) {
        output[p->size_out - 1 - i] = pb_broadcast_dim(p, inputs, i, 4);
    }
}

void pb_broadcast_args_s64(const pb_broadcast_args_params_t *p, const void *const *inputs, int64_t *output)
{
    int32_t i;
    for (i = 0; i < p->size_out; ++i) {
        output[p->size_out - 1 - i] = pb_broadcast_dim(p, inputs, i, 8);
    }
}
