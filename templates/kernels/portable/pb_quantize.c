/* QUANTIZE from float, int16 requantization, DEQUANTIZE from int16.
 * (int8 inputs go through the table kernels in pb_lut.) */
#include "pb_quantize.h"

/* round_half_away(x / scale) + zero_point clamped to [lo, hi], without libm. Beyond
 * +-131072 every int16 zero point saturates, so larger quotients clamp directly. */
static int32_t pb_quantize_one(float x, float scale, int32_t zero_point, int32_t lo, int32_t hi)
{
    const float q = x / scale;
    float frac;
    int32_t r;
    if (q != q) {
        return lo;
    }
    if (q >= 131072.0f) {
        return hi;
    }
    if (q <= -131072.0f) {
        return lo;
    }
    r = (int32_t)q;          /* truncates toward zero */
    frac = q - (float)r;     /* exact: q and r share sign and exponent range */
    if (frac >= 0.5f) {
        r += 1;
    } else if (frac <= -0.5f) {
        r -= 1;
    }
    r += zero_point;
    return PB_CLAMP(r, lo, hi);
}

void pb_quantize_f32_s8(const pb_quantize_f32_params_t *p, const float *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int8_t)pb_quantize_one(input[i], p->scale, p->zero_point, -128, 127);
    }
}

void pb_quantize_f32_s16(const pb_quantize_f32_params_t *p, const float *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int16_t)pb_quantize_one(input[i], p->scale, p->zero_point, -32768, 32767);
    }
}

void pb_requantize_s16_s8(const pb_requantize_params_t *p, const int16_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = pb_mul_by_quantized_mult(input[i] - p->input_zero_point, p->mult, p->shift)
                          + p->output_zero_point;
        output[i] = (int8_t)PB_CLAMP(v, -128, 127);
    }
}

void pb_requantize_s16_s16(const pb_requantize_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = pb_mul_by_quantized_mult(input[i] - p->input_zero_point, p->mult, p->shift)
                          + p->output_zero_point;
        output[i] = (int16_t)PB_CLAMP(v, -32768, 32767);
    }
}

void pb_requantize_s16_s32(const pb_requantize_params_t *p, const int16_t *input, int32_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = pb_mul_by_quantized_mult(input[i] - p->input_zero_point, p->mult, p->shift) + p->output_zero_point;
    }
}

void pb_dequantize_s16_f32(const pb_dequantize_params_t *p, const int16_t *input, float *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        /* |x - zp| < 2^17 and a float scale: the float product is the correctly rounded
         * exact product, identical to rounding the double product to float. */
        output[i] = p->scale * (float)(input[i] - p->zero_point);
    }
}
