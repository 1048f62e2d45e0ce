#ifndef PB_PAD_KERNEL_H_
#define PB_PAD_KERNEL_H_

#include "pb_common.h"

/* Constant padding, dtype-generic (1, 2 or 4 byte elements). Shapes are normalized to
 * 5 dimensions, outermost first; unpadded inner dimensions are already folded in. */
typedef struct {
    int32_t elem_size;
    int32_t in_dims[5];
    int32_t left[5];
    int32_t right[5];
    int32_t pad_value;   /* element bits: int8/int16/int32 value, or a float's bit pattern */
} pb_pad_params_t;

void pb_pad(const pb_pad_params_t *p, const void *input, void *output);

#endif
