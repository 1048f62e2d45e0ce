/* QUANTIZE int16 -> int8/int16, Helium tier (see pb_requant16.h). */
#include "pb_requant16.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif

#include <arm_mve.h>

/* Four values (x - input_zp) * mult * 2^shift + output_zp, TFLite's MultiplyByQuantizedMultiplier:
 * the left shift wraps (VSHL), as the reference's; VQRDMULH is the doubling high multiply,
 * floor((x * mult + 2^30) / 2^31), exactly (the multiplier is positive, so its one
 * saturating case cannot occur); VRSHL rounds halves up, so with a right shift negative
 * values first lose 1 (neg_mask all ones), which rounds their halves away from zero. */
static inline __attribute__((always_inline)) int32x4_t pb_mve_requant16(int32x4_t x, const pb_fast_mve_requantize_params_t *p,
                                                                        int32_t left, int32_t right, int32_t neg_mask)
{
    int32x4_t v = vshlq_r_s32(vsubq_n_s32(x, p->input_zero_point), left);
    v = vqrdmulhq_n_s32(v, p->mult);
    v = vaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), vdupq_n_s32(neg_mask)));
    return vaddq_n_s32(vrshlq_n_s32(v, -right), p->output_zero_point);
}

void pb_fast_mve_requantize_s16_s8(const pb_fast_mve_requantize_params_t *p, const int16_t *input, int8_t *output)
{
    const int32_t left = p->shift > 0 ? p->shift : 0, right = p->shift > 0 ? 0 : -p->shift;
    const int32_t neg_mask = right > 0 ? -1 : 0, size = p->size;
    int32_t i;
    for (i = 0; i < size; i += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(size - i));
        int32x4_t v = pb_mve_requant16(vldrhq_z_s32(input + i, pr), p, left, right, neg_mask);
        v = vmaxq_s32(vminq_s32(v, vdupq_n_s32(127)), vdupq_n_s32(-128));
        vstrbq_p_s32(output + i, v, pr);
    }
}

void pb_fast_mve_requantize_s16_s16(const pb_fast_mve_requantize_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t left = p->shift > 0 ? p->shift : 0, right = p->shift > 0 ? 0 : -p->shift;
    const int32_t neg_mask = right > 0 ? -1 : 0, size = p->size;
    int32_t i;
    for (i = 0; i < size; i += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(size - i));
        int32x4_t v = pb_mve_requant16(vldrhq_z_s32(input + i, pr), p, left, right, neg_mask);
        v = vmaxq_s32(vminq_s32(v, vdupq_n_s32(32767)), vdupq_n_s32(-32768));
        vstrhq_p_s32(output + i, v, pr);
    }
}
