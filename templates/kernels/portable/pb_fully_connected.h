#ifndef PB_FULLY_CONNECTED_H
#define PB_FULLY_CONNECTED_H

#include "pb_common.h"

typedef struct {
    int32_t batches, accum_depth, output_depth;
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
    int32_t mult;              /* per-tensor requantization ... */
    int32_t shift;
    const int32_t *mults;      /* ... or per output channel (NULL when per-tensor) */
    const int32_t *shifts;
    const int8_t *filter;      /* [output_depth][accum_depth] */
    const int32_t *bias;       /* int8 activations; may be NULL */
    const int64_t *bias64;     /* int16 activations; may be NULL */
} pb_fully_connected_params_t;

void pb_fully_connected_s8(const pb_fully_connected_params_t *p, const int8_t *input, int8_t *output);
void pb_fully_connected_s16(const pb_fully_connected_params_t *p, const int16_t *input, int16_t *output);

#endif
