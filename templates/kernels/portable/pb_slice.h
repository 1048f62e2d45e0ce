#ifndef PB_SLICE_KERNEL_H_
#define PB_SLICE_KERNEL_H_

#include "pb_common.h"

/* Strided slice, dtype-generic: output elements are read, in order, from
 * input[base + i0*step[0] + ... + i4*step[4]] for i_k < count[k] (element units;
 * steps may be negative). Loops that could be merged already are. */
typedef struct {
    int32_t elem_size;   /* 1, 2, 4 or 8 */
    int32_t base;
    int32_t count[5];
    int32_t step[5];
} pb_slice_params_t;

void pb_strided_slice(const pb_slice_params_t *p, const void *input, void *output);

#endif
