#ifndef PB_CUMSUM_H_
#define PB_CUMSUM_H_

#include "pb_common.h"

/* CUMSUM: the input as [outer, depth, inner], running sums along depth (from its end when
 * reverse); exclusive writes each sum before adding the element. The int8 fields are
 * TFLite Micro's quantized path: elements (x + input_offset) << 20 scaled by input_mult /
 * input_shift, summed from seed, each sum scaled by output_mult / output_shift. */
typedef struct {
    int32_t outer, depth, inner;
    int32_t exclusive, reverse;
    int32_t input_offset, output_zp;
    int32_t input_mult, input_shift;
    int32_t output_mult, output_shift;
    int32_t seed;
} pb_cumsum_params_t;

void pb_cumsum_s8(const pb_cumsum_params_t *p, const int8_t *input, int8_t *output);
void pb_cumsum_f32(const pb_cumsum_params_t *p, const float *input, float *output);

#endif
