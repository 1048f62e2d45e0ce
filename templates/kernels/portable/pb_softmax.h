#ifndef PB_SOFTMAX_H
#define PB_SOFTMAX_H

#include "pb_common.h"

/* SOFTMAX over the last dimension.
 * int8 input: exp_table[k] = exp(-k * input_scale * beta) in Q0.31 for k = 0..255 (0 where
 * the difference -k is below diff_min), precomputed exactly; the sum and the reciprocal are
 * integer fixed point at run time.
 * int16 input: exp_lut and recip_lut are 513-entry interpolation tables. */
typedef struct {
    int32_t outer, depth;
    int32_t diff_min;
    const int32_t *exp_table;
    int32_t input_multiplier, input_shift;
    const int16_t *exp_lut;
    const int16_t *recip_lut;
} pb_softmax_params_t;

void pb_softmax_s8(const pb_softmax_params_t *p, const int8_t *input, int8_t *output);
void pb_softmax_s8_s16(const pb_softmax_params_t *p, const int8_t *input, int16_t *output);
void pb_softmax_s16(const pb_softmax_params_t *p, const int16_t *input, int16_t *output);

#endif
