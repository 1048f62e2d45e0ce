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
    const int32x4_t lo = vdupq_n_s32(-128), hi = vdupq_n_s32(127);
    int32_t i;
    /* whole vectors without a predicate (one computed per pass costs more than the pass) */
    for (i = 0; i + 4 <= size; i += 4) {
        const int32x4_t v = pb_mve_requant16(vldrhq_s32(input + i), p, left, right, neg_mask);
        vstrbq_s32(output + i, vmaxq_s32(vminq_s32(v, hi), lo));
    }
    if (i < size) {
        const mve_pred16_t pr = vctp32q((uint32_t)(size - i));
        const int32x4_t v = pb_mve_requant16(vldrhq_z_s32(input + i, pr), p, left, right, neg_mask);
        vstrbq_p_s32(output + i, vmaxq_s32(vminq_s32(v, hi), lo), pr);
    }
}

void pb_fast_mve_requantize_s16_s16(const pb_fast_mve_requantize_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t left = p->shift > 0 ? p->shift : 0, right = p->shift > 0 ? 0 : -p->shift;
    const int32_t neg_mask = right > 0 ? -1 : 0, size = p->size;
    const int32x4_t lo = vdupq_n_s32(-32768), hi = vdupq_n_s32(32767);
    int32_t i;
    for (i = 0; i + 4 <= size; i += 4) {
        const int32x4_t v = pb_mve_requant16(vldrhq_s32(input + i), p, left, right, neg_mask);
        vstrhq_s32(output + i, vmaxq_s32(vminq_s32(v, hi), lo));
    }
    if (i < size) {
        const mve_pred16_t pr = vctp32q((uint32_t)(size - i));
        const int32x4_t v = pb_mve_requant16(vldrhq_z_s32(input + i, pr), p, left, right, neg_mask);
        vstrhq_p_s32(output + i, vmaxq_s32(vminq_s32(v, hi), lo), pr);
    }
}
