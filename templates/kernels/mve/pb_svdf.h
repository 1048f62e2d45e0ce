/* SVDF, int8 input and output with an int8 or int16 state, Helium (MVE) tier for the
 * Cortex-M55: the portable kernel with its feature multiply, the bulk of the work, four
 * filters per pass over the input through VMLADAVA (pb_mve_dot4, pb_lstm.h). Bit-exact with
 * TensorFlow Lite Micro. The generator (protobrain/compiler/ops/tiers/recurrent.py) packs
 * the feature rows zero-padded to 16 bytes and pads the filters to a multiple of four with
 * zero rows. */
#ifndef PB_MVE_SVDF_H
#define PB_MVE_SVDF_H

#include "pb_common.h"

typedef struct {
    int32_t batches, input_size, filters, units, rank, memory;
    int32_t state_zp, state_min, state_max;
    int32_t feature_mult, feature_shift;
    int32_t output_mult, output_shift, output_zp;
    int32_t input_words;              /* one packed feature row: input_size rounded up to 16 bytes */
    const int32_t *w_feature;         /* [filters rounded up to 4][input_words] int8 */
    const int32_t *feature_bias;      /* [filters rounded up to 4]: -input_zp * row sum */
    const int8_t *w_time;             /* [filters][memory], int8 state */
    const int16_t *w_time16;          /* [filters][memory], int16 state */
    const int32_t *unit_bias;         /* [units] */
    int32_t fast;                     /* requantize with one rounded high multiply (pb_lstm.h) */
} pb_fast_mve_svdf_params_t;

void pb_fast_mve_svdf_s8(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int8_t *state,
                         int8_t *output);
void pb_fast_mve_svdf_s8_s16(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int16_t *state,
                             int8_t *output);

#endif /* PB_MVE_SVDF_H */
