#ifndef PB_CONCAT_KERNEL_H_
#define PB_CONCAT_KERNEL_H_

#include "pb_common.h"

#define PB_CONCAT_MAX_INPUTS 10

/* Concatenation, dtype-generic: for each of `outer` steps, every input contributes one
 * contiguous block of copy_bytes[i] bytes, in input order. */
typedef struct {
    int32_t num_inputs;
    int32_t outer;                              /* product of the dimensions before the axis */
    int32_t copy_bytes[PB_CONCAT_MAX_INPUTS];
    int32_t const_offset[PB_CONCAT_MAX_INPUTS]; /* -1: a run-time input; else byte offset in const_data */
    const void *const_data;                     /* constant inputs, back to back; may be NULL */
} pb_concat_params_t;

/* runtime: the run-time inputs in order (constant inputs live in const_data). */
void pb_concat(const pb_concat_params_t *p, const void *const *runtime, void *output);

#endif
