/* QUANTIZE int16 -> int8/int16, Helium (MVE) tier for the Cortex-M55: the portable
 * kernel's requantization (portable/pb_quantize.c) four values a vector. Bit-exact with
 * TensorFlow Lite Micro. */
#ifndef PB_MVE_QUANTIZE_H
#define PB_MVE_QUANTIZE_H

#include "pb_common.h"

/* The portable kernel's parameters (pb_requantize_params_t), field for field:
 * (x - input_zero_point) * mult * 2^shift + output_zero_point. */
typedef struct {
    int32_t size;
    int32_t input_zero_point, output_zero_point;
    int32_t mult, shift;
} pb_fast_mve_requantize_params_t;

void pb_fast_mve_requantize_s16_s8(const pb_fast_mve_requantize_params_t *p, const int16_t *input, int8_t *output);
void pb_fast_mve_requantize_s16_s16(const pb_fast_mve_requantize_params_t *p, const int16_t *input, int16_t *output);

#endif /* PB_MVE_QUANTIZE_H */
