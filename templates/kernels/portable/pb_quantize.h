#ifndef PB_QUANTIZE_H
#define PB_QUANTIZE_H

#include "pb_common.h"

/* float -> int8/int16: q = round_half_away(x / scale) + zero_point, saturated. */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} pb_quantize_f32_params_t;

/* int16 -> int8/int16 requantization: (x - input_zp) * mult * 2^shift + output_zp. */
typedef struct {
    int32_t size;
    int32_t input_zero_point, output_zero_point;
    int32_t mult, shift;
} pb_requantize_params_t;

/* int16 -> float: scale * (x - zero_point). */
typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} pb_dequantize_params_t;

void pb_quantize_f32_s8(const pb_quantize_f32_params_t *p, const float *input, int8_t *output);
void pb_quantize_f32_s16(const pb_quantize_f32_params_t *p, const float *input, int16_t *output);
void pb_requantize_s16_s8(const pb_requantize_params_t *p, const int16_t *input, int8_t *output);
void pb_requantize_s16_s16(const pb_requantize_params_t *p, const int16_t *input, int16_t *output);
void pb_requantize_s16_s32(const pb_requantize_params_t *p, const int16_t *input, int32_t *output);
void pb_dequantize_s16_f32(const pb_dequantize_params_t *p, const int16_t *input, float *output);

#endif
