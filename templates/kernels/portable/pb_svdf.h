/* SVDF, integer: int8 input and output, an int8 (pb_svdf_s8) or int16 (pb_svdf_s8_s16)
 * activation state and time weights. Bit-exact with TensorFlow Lite Micro's integer SVDF.
 *
 * The state is the model's variable tensor, [batches][filters][memory], updated in place:
 * shifted left by one value, then each filter's newest slot gets its feature dot product
 * requantized to the state. The generator (protobrain/compiler/ops/svdf.py) folds the
 * input zero point into feature_bias and the state zero point into unit_bias. */
#ifndef PB_SVDF_H
#define PB_SVDF_H

#include "pb_common.h"

typedef struct {
    int32_t batches, input_size, filters, units, rank, memory;
    int32_t state_zp, state_min, state_max;   /* the state type's range */
    int32_t feature_mult, feature_shift;      /* feature dot product -> state scale */
    int32_t output_mult, output_shift, output_zp;
    const int8_t *w_feature;                  /* [filters][input_size] */
    const int32_t *feature_bias;              /* [filters]: -input_zp * row sum */
    const int8_t *w_time;                     /* [filters][memory], int8 state */
    const int16_t *w_time16;                  /* [filters][memory], int16 state */
    const int32_t *unit_bias;                 /* [units]: bias - state_zp * the unit's time weight sum */
} pb_svdf_params_t;

void pb_svdf_s8(const pb_svdf_params_t *p, const int8_t *input, const int8_t *state, int8_t *output);
void pb_svdf_s8_s16(const pb_svdf_params_t *p, const int8_t *input, const int16_t *state, int8_t *output);

#endif /* PB_SVDF_H */
