/* QUANTIZE int16 -> int8/int16, Helium tier (see pb_quantize.h). */
#include "pb_quantize.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif

#include <arm_mve.h>

/* Four values (x - input_zp) * mult * 2^shift + output_zp, TFLite's MultiplyByQuantizedMultiplier:
 * the left shift wraps (VSHL), as the reference's; VQRDMULH is the doubling high multiply,
 * floor((x * mult + 2^30) / 2^31), exactly (the multiplier is positive, so its one
 * saturating case cannot occur); VRSHL rounds halves up, so with a right shift negative
 * values first lose 1 (neg1: 1, VMLA by the sign), which rounds their halves away from zero.
 * Then saturated to the output type by a saturating shift to the top of the word and back. */
static inline __attribute__((always_inline)) int32x4_t pb_mve_requant16(int32x4_t x, int32_t input_zp, int32_t mult,
                                                                        int32_t output_zp, int32_t left,
                                                                        int32_t right, int32_t neg1, int32_t out16)
{
    int32x4_t v = vqrdmulhq_n_s32(vshlq_r_s32(vsubq_n_s32(x, input_zp), left), mult);
    v = vaddq_n_s32(vrshlq_n_s32(vmlaq_n_s32(v, vshrq_n_s32(v, 31), neg1), -right), output_zp);
    return out16 ? vshrq_n_s32(vqshlq_n_s32(v, 16), 16) : vshrq_n_s32(vqshlq_n_s32(v, 24), 24);
}

/* The layer's values four a vector: whole vectors without a predicate (one computed per
 * pass costs more than the pass), the last 1..3 under one. out16: int16 output, else int8. */
static inline __attribute__((always_inline)) void pb_mve_requantize(const pb_fast_mve_requantize_params_t *p,
                                                                    const int16_t *input, void *output, int32_t out16)
{
    const int32_t left = p->shift > 0 ? p->shift : 0, right = p->shift > 0 ? 0 : -p->shift;
    const int32_t neg1 = right > 0, size = p->size;
    const int32_t input_zp = p->input_zero_point, mult = p->mult, output_zp = p->output_zero_point;
    int8_t *out8 = (int8_t *)output;
    int16_t *out16p = (int16_t *)output;
    int32_t i;
    for (i = 0; i + 4 <= size; i += 4) {
        const int32x4_t v = pb_mve_requant16(vldrhq_s32(input + i), input_zp, mult, output_zp, left, right, neg1, out16);
        if (out16) {
            vstrhq_s32(out16p + i, v);
        } else {
            vstrbq_s32(out8 + i, v);
        }
    }
    if (i < size) {
        const mve_pred16_t pr = vctp32q((uint32_t)(size - i));
        const int32x4_t v =
            pb_mve_requant16(vldrhq_z_s32(input + i, pr), input_zp, mult, output_zp, left, right, neg1, out16);
        if (out16) {
            vstrhq_p_s32(out16p + i, v, pr);
        } else {
            vstrbq_p_s32(out8 + i, v, pr);
        }
    }
}

void pb_fast_mve_requantize_s16_s8(const pb_fast_mve_requantize_params_t *p, const int16_t *input, int8_t *output)
{
    pb_mve_requantize(p, input, output, 0);
}

void pb_fast_mve_requantize_s16_s16(const pb_fast_mve_requantize_params_t *p, const int16_t *input, int16_t *output)
{
    pb_mve_requantize(p, input, output, 1);
}
