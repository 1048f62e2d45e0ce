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

/* pb_concat_<n>: n run-time inputs (in order), then the output. */
void pb_concat_1(const pb_concat_params_t *p, const void *in0, void *output);
void pb_concat_2(const pb_concat_params_t *p, const void *in0, const void *in1, void *output);
void pb_concat_3(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 void *output);
void pb_concat_4(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, void *output);
void pb_concat_5(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, void *output);
void pb_concat_6(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, const void *in5, void *output);
void pb_concat_7(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, const void *in5, const void *in6, void *output);
void pb_concat_8(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, const void *in5, const void *in6,
                 const void *in7, void *output);
void pb_concat_9(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                 const void *in3, const void *in4, const void *in5, const void *in6,
                 const void *in7, const void *in8, void *output);
void pb_concat_10(const pb_concat_params_t *p, const void *in0, const void *in1, const void *in2,
                  const void *in3, const void *in4, const void *in5, const void *in6,
                  const void *in7, const void *in8, const void *in9, void *output);

#endif
