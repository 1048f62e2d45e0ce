#ifndef PB_ACTIVATION_H
#define PB_ACTIVATION_H

#include "pb_common.h"

/* int16 LOGISTIC / TANH: the input is rescaled to the sigmoid table's grid, then the
 * 256-entry unsigned Q0.16 table of sigmoid(i/24) is linearly interpolated. */
typedef struct {
    int32_t size;
    int32_t multiplier;  /* input rescale: (x * multiplier + round) >> shift */
    int32_t shift;
    const uint16_t *table;
} pb_sigmoid_s16_params_t;

/* int16 RELU: requantize then clamp. */
typedef struct {
    int32_t size;
    int32_t input_offset, output_offset;
    int32_t mult, shift;
    int32_t act_min, act_max;
} pb_relu_s16_params_t;

/* int16 RELU6 (and any plain clamp). */
typedef struct {
    int32_t size;
    int32_t lo, hi;
} pb_clamp_s16_params_t;

/* int16 LEAKY_RELU: one multiplier for x >= 0, another (with its sign apart) for x < 0. */
typedef struct {
    int32_t size;
    int32_t input_offset, output_offset;
    int32_t mult_identity, shift_identity;
    int32_t mult_alpha, shift_alpha;
    int32_t alpha_negative;
} pb_leaky_relu_s16_params_t;

void pb_logistic_s16(const pb_sigmoid_s16_params_t *p, const int16_t *input, int16_t *output);
void pb_tanh_s16(const pb_sigmoid_s16_params_t *p, const int16_t *input, int16_t *output);
void pb_relu_s16(const pb_relu_s16_params_t *p, const int16_t *input, int16_t *output);
void pb_clamp_s16(const pb_clamp_s16_params_t *p, const int16_t *input, int16_t *output);
void pb_leaky_relu_s16(const pb_leaky_relu_s16_params_t *p, const int16_t *input, int16_t *output);

#endif
