/* SVDF, Helium tier (see pb_svdf.h): the fast tiers' kernel (pb_fast_recurrent.h) over this
 * tier's dot products. */
#include "pb_svdf.h"

#include "pb_lstm.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif

/* acc + the dot product of n int8 (or int16) values of a and b: VMLADAVA, the last
 * vector under a tail predicate (int8: whole vectors without one). */
static inline __attribute__((always_inline)) int32_t pb_mve_svdf_dot_s8(const int8_t *a, const int8_t *b, int32_t n,
                                                                        int32_t acc)
{
    int32_t j;
    for (j = 0; j + 16 <= n; j += 16) {
        acc = vmladavaq_s8(acc, vldrbq_s8(a + j), vldrbq_s8(b + j));
    }
    if (j < n) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n - j));
        acc = vmladavaq_s8(acc, vldrbq_z_s8(a + j, pr), vldrbq_z_s8(b + j, pr));
    }
    return acc;
}

static inline __attribute__((always_inline)) int32_t pb_mve_svdf_dot_s16(const int16_t *a, const int16_t *b, int32_t n,
                                                                         int32_t acc)
{
    int32_t j;
    for (j = 0; j < n; j += 8) {
        const mve_pred16_t pr = vctp16q((uint32_t)(n - j));
        acc = vmladavaq_s16(acc, vldrhq_z_s16(a + j, pr), vldrhq_z_s16(b + j, pr));
    }
    return acc;
}

/* The state moved down by one byte (memmove(s, s + 1, n)): 16 bytes a vector, forward, each
 * vector loaded before the store below it; only the last 1..15 bytes under a predicate
 * (one computed per pass costs the loop three times its instructions). */
static inline __attribute__((always_inline)) void pb_mve_svdf_shift_s8(int8_t *s, int32_t n)
{
    int32_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        vstrbq_s8(s + i, vldrbq_s8(s + i + 1));
    }
    if (i < n) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n - i));
        vstrbq_p_s8(s + i, vldrbq_z_s8(s + i + 1, pr), pr);
    }
}

/* The right-shift requantization of four accumulators, exact (TFLite's
 * MultiplyByQuantizedMultiplier with a right shift rshift >= 1): VQRDMULH is its doubling
 * high multiply, floor((a * mult + 2^30) / 2^31), for any a and a multiplier of at least 0;
 * VRSHL's rounding right shift rounds halves up, so negative values first lose 1, which
 * rounds their halves away from zero. */
static inline __attribute__((always_inline)) int32x4_t pb_mve_svdf_requant4(int32x4_t a, int32_t mult,
                                                                            int32_t rshift)
{
    const int32x4_t v = vqrdmulhq_n_s32(a, mult);
    return vrshlq_n_s32(vaddq_s32(v, vshrq_n_s32(v, 31)), -rshift);
}

/* The features of one batch (feature requantization a right shift): four filters' dot
 * products (pb_mve_dot4), requantized as one vector, saturated, the state's zero point
 * added, and stored to the four filters' newest slots (a byte scatter, `memory` apart). */
static inline __attribute__((always_inline)) void pb_mve_svdf_features_right(const pb_fast_svdf_params_t *p,
                                                                             const int8_t *x, int8_t *sb)
{
    const int32_t filters = p->filters, memory = p->memory, input_size = p->input_size, words = p->input_words;
    const int32_t mult = p->feature_mult, rshift = -p->feature_shift, state_zp = p->state_zp;
    const int32_t *w = p->w_feature, *bias = p->feature_bias;
    const uint32x4_t slots = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)memory);
    int8_t *newest = sb + memory - 1;
    int32_t f;
    for (f = 0; f < filters; f += 4) {
        int32_t acc[4];
        int32x4_t v;
        acc[0] = bias[f];
        acc[1] = bias[f + 1];
        acc[2] = bias[f + 2];
        acc[3] = bias[f + 3];
        pb_mve_dot4(x, input_size, w + f * words, words, acc);
        v = pb_mve_svdf_requant4(vldrwq_s32(acc), mult, rshift);
        v = vaddq_n_s32(vmaxq_s32(vminq_s32(v, vdupq_n_s32(127)), vdupq_n_s32(-128)), state_zp);
        vstrbq_scatter_offset_p_s32(newest + f * memory, slots, v, vctp32q((uint32_t)(filters - f)));
    }
}

/* One batch's features into the newest slots, one function for every shape of the time
 * stage below (not inlined into each). */
static void pb_mve_svdf_s8_features(const pb_fast_svdf_params_t *p, const int8_t *x, int8_t *sb)
{
    if (p->feature_shift <= -1) {
        pb_mve_svdf_features_right(p, x, sb);
    } else {
        pb_fast_svdf_features(p, x, sb, 0, p->memory - 1, pb_mve_dot4);
    }
}

/* The int8-state SVDF whose output requantization shifts right: the state shifted by
 * vectors, the features, then each unit's time dot product (for memory_c, rank 1, a
 * constant: no loop per unit), four units' requantized as one vector. */
static inline __attribute__((always_inline)) void pb_mve_svdf_s8_right(const pb_fast_svdf_params_t *p,
                                                                       const int8_t *input, int8_t *state,
                                                                       int8_t *output, int32_t memory_c)
{
    const int32_t mult = p->output_mult, rshift = -p->output_shift;
    const int32_t per_batch = p->filters * p->memory, units = p->units, output_zp = p->output_zp;
    const int32_t n = memory_c ? memory_c : p->rank * p->memory;
    const int32_t *unit_bias = p->unit_bias;
    int32_t b, u;
    pb_mve_svdf_shift_s8(state, p->batches * per_batch - 1);
    for (b = 0; b < p->batches; ++b) {
        const int8_t *sb = state + b * per_batch, *wt = p->w_time;
        int8_t *out = output + b * units;
        pb_mve_svdf_s8_features(p, input + b * p->input_size, state + b * per_batch);
        /* four units' accumulators requantized as one vector, the last 1..3 under a predicate */
        for (u = 0; u < units; u += 4) {
            int32_t acc[4];
            int32x4_t v;
            if (n == 8 && u + 4 <= units) {
                /* memory 8 at rank 1: two units a vector, each half under its own predicate */
                const int8x16_t s0 = vldrbq_s8(sb), w0 = vldrbq_s8(wt);
                const int8x16_t s1 = vldrbq_s8(sb + 16), w1 = vldrbq_s8(wt + 16);
                acc[0] = vmladavaq_p_s8(unit_bias[u], w0, s0, 0x00FF);
                acc[1] = vmladavaq_p_s8(unit_bias[u + 1], w0, s0, 0xFF00);
                acc[2] = vmladavaq_p_s8(unit_bias[u + 2], w1, s1, 0x00FF);
                acc[3] = vmladavaq_p_s8(unit_bias[u + 3], w1, s1, 0xFF00);
            } else if (u + 4 <= units) {
                acc[0] = pb_mve_svdf_dot_s8(wt, sb, n, unit_bias[u]);
                acc[1] = pb_mve_svdf_dot_s8(wt + n, sb + n, n, unit_bias[u + 1]);
                acc[2] = pb_mve_svdf_dot_s8(wt + 2 * n, sb + 2 * n, n, unit_bias[u + 2]);
                acc[3] = pb_mve_svdf_dot_s8(wt + 3 * n, sb + 3 * n, n, unit_bias[u + 3]);
            } else {
                int32_t k;
                for (k = 0; k < 4; ++k) {
                    acc[k] = u + k < units ? pb_mve_svdf_dot_s8(wt + k * n, sb + k * n, n, unit_bias[u + k]) : 0;
                }
            }
            wt += 4 * n;
            sb += 4 * n;
            v = vaddq_n_s32(pb_mve_svdf_requant4(vldrwq_s32(acc), mult, rshift), output_zp);
            v = vmaxq_s32(vminq_s32(v, vdupq_n_s32(127)), vdupq_n_s32(-128));
            vstrbq_p_s32(out + u, v, vctp32q((uint32_t)(units - u)));
        }
    }
}

void pb_fast_mve_svdf_s8(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int8_t *state,
                         int8_t *output)
{
    if (p->output_shift > -1) {
        pb_fast_svdf_s8_with(p, input, state, output, pb_mve_dot4, pb_mve_svdf_dot_s8);
    } else if (p->memory == 8 && p->rank == 1) {
        pb_mve_svdf_s8_right(p, input, (int8_t *)state, output, 8);
    } else if (p->memory == 32 && p->rank == 1) {
        pb_mve_svdf_s8_right(p, input, (int8_t *)state, output, 32);
    } else {
        pb_mve_svdf_s8_right(p, input, (int8_t *)state, output, 0);
    }
}

void pb_fast_mve_svdf_s8_s16(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int16_t *state,
                             int8_t *output)
{
    pb_fast_svdf_s8_s16_with(p, input, state, output, pb_mve_dot4, pb_mve_svdf_dot_s16);
}
