/* QUANTIZE int16 -> int8/int16, DSP tier (Cortex-M4/M7/M33; plain C elsewhere): the
 * requantization as one SMMLAR, one shift and one SSAT a value, where the generator proved
 * that exact (protobrain/compiler/ops/tiers/requant16.py). Bit-exact with TensorFlow Lite
 * Micro. */
#ifndef PB_DSP_QUANTIZE_H
#define PB_DSP_QUANTIZE_H

#include "pb_common.h"

/* ((x - input_zero_point) << left) is twice the value MultiplyByQuantizedMultiplier shifts
 * (left = its left shift + 1); right: its right shift; round = 2^(right-1) +
 * output_zero_point * 2^right (output_zero_point when right is 0); neg: 1 where right >= 1. */
typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t mult, left, right, round, neg;
} pb_fast_dsp_requantize_params_t;

void pb_fast_dsp_requantize_s16_s8(const pb_fast_dsp_requantize_params_t *p, const int16_t *input, int8_t *output);
void pb_fast_dsp_requantize_s16_s16(const pb_fast_dsp_requantize_params_t *p, const int16_t *input, int16_t *output);

#endif /* PB_DSP_QUANTIZE_H */
