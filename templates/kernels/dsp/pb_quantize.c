/* QUANTIZE int16 -> int8/int16, DSP tier (see pb_quantize.h). */
#include "pb_quantize.h"

#include "pb_requant.h"

/* One value: SMMULR of 2x (x the shifted difference) is the doubling high multiply, exact
 * because 2x fits int32 (the generator's bound); the rounding shift's half and the output
 * zero point ride in SMMLAR's addend, less 1 for negative x (rounding halves away from zero;
 * x's sign stands for the product's, they differ only where it rounds to 0, and there both
 * round to 0). */
static PB_ALWAYS_INLINE int32_t pb_dsp_requant16(const pb_fast_dsp_requantize_params_t *p, int32_t value)
{
    const int32_t x = (int32_t)((uint32_t)(value - p->input_zero_point) << p->left);
    const int32_t c = p->round - (int32_t)(((uint32_t)x >> 31) & (uint32_t)p->neg);
    return pb_fast_smmlar(x, p->mult, c) >> p->right;
}

void pb_fast_dsp_requantize_s16_s8(const pb_fast_dsp_requantize_params_t *p, const int16_t *input, int8_t *output)
{
    const pb_fast_dsp_requantize_params_t q = *p; /* in registers: the stores may alias p */
    int32_t i;
    for (i = 0; i < q.size; ++i) {
        output[i] = (int8_t)pb_ssat8(pb_dsp_requant16(&q, input[i]));
    }
}

void pb_fast_dsp_requantize_s16_s16(const pb_fast_dsp_requantize_params_t *p, const int16_t *input, int16_t *output)
{
    const pb_fast_dsp_requantize_params_t q = *p;
    int32_t i;
    for (i = 0; i < q.size; ++i) {
        output[i] = (int16_t)PB_CLAMP(pb_dsp_requant16(&q, input[i]), -32768, 32767);
    }
}
