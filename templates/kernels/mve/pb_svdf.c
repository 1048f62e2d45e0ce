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
 * vector loaded before the store below it, in a tail-predicated loop (WLSTP/LETP: the last
 * 1..15 bytes under the loop's own predicate, two instructions a vector; none for n = 0). */
static inline __attribute__((always_inline)) void pb_mve_svdf_shift_s8(int8_t *s, int32_t n)
{
    __asm__ volatile("wlstp.8 lr, %[n], 2f\n"
                     "1:\n\tvldrb.8 q0, [%[s], #1]\n\tvstrb.8 q0, [%[s]], #16\n\tletp lr, 1b\n"
                     "2:\n\t"
                     : [s] "+r"(s)
                     : [n] "r"(n)
                     : "q0", "lr", "memory");
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

/* A vector of four int32 lanes from four registers: two VMOVs of two lanes each (GCC 12
 * builds it lane by lane). */
static inline __attribute__((always_inline)) int32x4_t pb_mve_svdf_lanes(int32_t a, int32_t b, int32_t c, int32_t d)
{
    int32x4_t v;
    __asm__("vmov %q[v][2], %q[v][0], %[a], %[c]\n\tvmov %q[v][3], %q[v][1], %[b], %[d]"
            : [v] "=&w"(v)
            : [a] "r"(a), [b] "r"(b), [c] "r"(c), [d] "r"(d));
    return v;
}

/* Four filters' feature dot products (x: n = 16 * nfull + rem int8 values; w: the four
 * rows interleaved vector by vector, zero past n) from their biases, in inline assembly:
 * VMLADAV's accumulators must be even registers, and GCC 12 moves them through the stack.
 * The last 1..15 values of x are read under a tail predicate, never past its end. */
#define PB_MVE_SVDF_ROWS PB_MVE_ROWS4("q0", "w", "q1", "q2")
static inline __attribute__((always_inline)) int32x4_t pb_mve_svdf_dot4(const int8_t *x, int32_t nfull, int32_t rem,
                                                                         const int8_t *w, const int32_t *bias)
{
    register int32_t a0 __asm__("r0"), a1 __asm__("r2"), a2 __asm__("r8"), a3 __asm__("r10");
    __asm__ volatile("ldrd r0, r2, [%[b]]\n\tldrd r8, r10, [%[b], #8]\n\t"
                     "wls lr, %[n], 3f\n"
                     "2:\n\tvldrb.8 q0, [%[x]], #16\n\t" PB_MVE_SVDF_ROWS "le lr, 2b\n"
                     "3:\n\t"
                     : "=&r"(a0), "=&r"(a1), "=&r"(a2), "=&r"(a3), [x] "+r"(x), [w] "+r"(w)
                     : [b] "r"(bias), [n] "r"(nfull)
                     : "q0", "q1", "q2", "lr", "memory");
    if (rem) {
        __asm__ volatile("vctp.8 %[r]\n\tvpst\n\tvldrbt.8 q0, [%[x]]\n\t" PB_MVE_SVDF_ROWS
                         : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), [w] "+r"(w)
                         : [x] "r"(x), [r] "r"(rem)
                         : "q0", "q1", "q2", "p0", "memory");
    }
    return pb_mve_svdf_lanes(a0, a1, a2, a3);
}
#undef PB_MVE_SVDF_ROWS

/* The features of one batch (feature requantization a right shift): four filters' dot
 * products, requantized as one vector, saturated, the state's zero point added, and stored
 * to the four filters' newest slots (a byte scatter, `memory` apart). The rows and biases
 * are padded to whole fours. */
static inline __attribute__((always_inline)) void pb_mve_svdf_features_right(const pb_fast_svdf_params_t *p,
                                                                             const int8_t *x, int8_t *sb)
{
    const int32_t filters = p->filters, memory = p->memory, words = p->input_words;
    const int32_t nfull = p->input_size / 16, rem = p->input_size % 16;
    const int32_t mult = p->feature_mult, rshift = -p->feature_shift, state_zp = p->state_zp;
    const int32_t *w = p->w_feature, *bias = p->feature_bias;
    const uint32x4_t slots = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)memory);
    int8_t *newest = sb + memory - 1;
    int32_t f;
    for (f = 0; f < filters; f += 4) {
        int32x4_t v = pb_mve_svdf_requant4(pb_mve_svdf_dot4(x, nfull, rem, (const int8_t *)(w + f * words), bias + f),
                                           mult, rshift);
        v = vaddq_n_s32(vshrq_n_s32(vqshlq_n_s32(v, 24), 24), state_zp);
        if (f + 4 <= filters) {
            vstrbq_scatter_offset_s32(newest + f * memory, slots, v);
        } else {
            vstrbq_scatter_offset_p_s32(newest + f * memory, slots, v, vctp32q((uint32_t)(filters - f)));
        }
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

/* Four units' time accumulators at memory 8, rank 1 (two units a vector), in inline
 * assembly: each vector's whole dot product and its first half's (under the predicate of
 * its low eight lanes), the second half the difference; then the biases. */
static inline __attribute__((always_inline)) int32x4_t pb_mve_svdf_time8(const int8_t *s, const int8_t *w,
                                                                          const int32_t *bias)
{
    register int32_t t0 __asm__("r0"), l0 __asm__("r2"), t1 __asm__("r8"), l1 __asm__("r10");
    __asm__ volatile("vldrb.8 q0, [%[s]]\n\tvldrb.8 q1, [%[w]]\n\t"
                     "vldrb.8 q2, [%[s], #16]\n\tvldrb.8 q3, [%[w], #16]\n\t"
                     "vmsr p0, %[low]\n\t"
                     "vmladav.s8 r0, q0, q1\n\tvpst\n\tvmladavt.s8 r2, q0, q1\n\t"
                     "vmladav.s8 r8, q2, q3\n\tvpst\n\tvmladavt.s8 r10, q2, q3\n\t"
                     : "=&r"(t0), "=&r"(l0), "=&r"(t1), "=&r"(l1)
                     : [s] "r"(s), [w] "r"(w), [low] "r"(0x00FF)
                     : "q0", "q1", "q2", "q3", "p0", "memory");
    return vaddq_s32(pb_mve_svdf_lanes(l0, t0 - l0, l1, t1 - l1), vldrwq_s32(bias));
}

/* Four units' time accumulators where a unit's memory (rank times memory) is k whole
 * vectors: each unit's dot product in a loop, its accumulator an even register. */
#define PB_MVE_SVDF_UNIT(r)                                                                    \
    "dls lr, %[k]\n2:\n\tvldrb.8 q0, [%[s]], #16\n\tvldrb.8 q1, [%[w]], #16\n\t"                 \
    "vmladava.s8 " r ", q0, q1\n\tle lr, 2b\n\t"
static inline __attribute__((always_inline)) int32x4_t pb_mve_svdf_time16(const int8_t *s, const int8_t *w,
                                                                           int32_t k, const int32_t *bias)
{
    register int32_t a0 __asm__("r0"), a1 __asm__("r2"), a2 __asm__("r8"), a3 __asm__("r10");
    __asm__ volatile("ldrd r0, r2, [%[b]]\n\tldrd r8, r10, [%[b], #8]\n\t" PB_MVE_SVDF_UNIT("r0")
                     PB_MVE_SVDF_UNIT("r2") PB_MVE_SVDF_UNIT("r8") PB_MVE_SVDF_UNIT("r10")
                     : "=&r"(a0), "=&r"(a1), "=&r"(a2), "=&r"(a3), [s] "+r"(s), [w] "+r"(w)
                     : [b] "r"(bias), [k] "r"(k)
                     : "q0", "q1", "lr", "memory");
    return pb_mve_svdf_lanes(a0, a1, a2, a3);
}
#undef PB_MVE_SVDF_UNIT

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
        /* four units' accumulators requantized as one vector, the last 1..3 under a predicate
         * (memory 8 or whole vectors: assembly; other shapes and a last, partial four: C) */
        for (u = 0; u < units; u += 4) {
            int32x4_t v;
            if (n == 8 && u + 4 <= units) {
                v = pb_mve_svdf_time8(sb, wt, unit_bias + u);
            } else if (n % 16 == 0 && u + 4 <= units) {
                v = pb_mve_svdf_time16(sb, wt, n / 16, unit_bias + u);
            } else {
                int32_t acc[4], k;
                for (k = 0; k < 4; ++k) {
                    acc[k] = u + k < units ? pb_mve_svdf_dot_s8(wt + k * n, sb + k * n, n, unit_bias[u + k]) : 0;
                }
                v = vldrwq_s32(acc);
            }
            wt += 4 * n;
            sb += 4 * n;
            v = vaddq_n_s32(pb_mve_svdf_requant4(v, mult, rshift), output_zp);
            v = vshrq_n_s32(vqshlq_n_s32(v, 24), 24);
            if (u + 4 <= units) {
                vstrbq_s32(out + u, v);
            } else {
                vstrbq_p_s32(out + u, v, vctp32q((uint32_t)(units - u)));
            }
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
