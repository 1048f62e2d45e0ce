/* SVDF, DSP tier (see pb_svdf.h): the fast tiers' kernel (pb_fast_recurrent.h) over this
 * tier's dot products. */
#include "pb_svdf.h"

#include "pb_lstm.h"

/* acc + the dot product of n int8 (or int16) values of a and b, any alignment: SMLAD on
 * int16 pairs, the last values one by one. */
static PB_ALWAYS_INLINE int32_t pb_dsp_svdf_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    int32_t j;
    for (j = 0; j + 4 <= n; j += 4) {
        const uint32_t x = pb_load32(a + j), y = pb_load32(b + j);
        acc = pb_smlad(pb_sxtb16_hi(x), pb_sxtb16_hi(y), pb_smlad(pb_sxtb16(x), pb_sxtb16(y), acc));
    }
    for (; j < n; ++j) {
        acc = (int32_t)((uint32_t)acc + (uint32_t)(a[j] * b[j]));
    }
    return acc;
}

static PB_ALWAYS_INLINE int32_t pb_dsp_svdf_dot_s16(const int16_t *a, const int16_t *b, int32_t n, int32_t acc)
{
    int32_t j;
    for (j = 0; j + 2 <= n; j += 2) {
        acc = pb_smlad(pb_load32(a + j), pb_load32(b + j), acc);
    }
    if (j < n) {
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)a[j] * b[j]));
    }
    return acc;
}

/* The int8-state SVDF when each filter's memory is whole words, in two passes per batch.
 * First each filter's feature goes into its oldest byte, the one this step drops
 * (pb_fast_svdf_features at slot 0); then one pass per filter rotates its memory down by
 * one byte (each word the funnel of two aligned loads, the feature coming round to the
 * newest byte) and multiplies each new word into its unit's time accumulator on the way:
 * no separate state shift, and the state is read once. The first pass, with the feature
 * rows as int16 (wide) or int8: */
/* Blocks of filters per call: their accumulators on the stack, 512 bytes. */
#define PB_DSP_SVDF_BLOCKS 32

/* pb_fast_svdf_features (slot 0, int8 state) with the wide rows: the input widened once,
 * the features four filters at a time by pb_dsp_rows4_dots (pb_rows4.h). */
static void pb_dsp_svdf_s8_features_wide(const pb_fast_svdf_params_t *p, const int8_t *x, uint8_t *sb)
{
    const int32_t groups = (p->input_size + 3) >> 2;
    if (groups > PB_DSP_ROWS4_GROUPS_MAX) {
        pb_fast_svdf_features(p, x, sb, 0, 0, pb_dsp_dot4_wide);
    } else {
        const pb_fast_svdf_rq_t q = pb_fast_svdf_rq(p->feature_mult, p->feature_shift, p->fast_feature);
        const int32_t filters = p->filters, memory = p->memory, state_zp = p->state_zp;
        uint32_t xb[2 * PB_DSP_ROWS4_GROUPS_MAX];
        int32_t acc[4 * PB_DSP_SVDF_BLOCKS];
        pb_dsp_rows4_t f;
        int32_t f0;
        pb_dsp_widen4(xb, x, p->input_size);
        f.xb = xb, f.groups = groups, f.acc = acc;
        for (f0 = 0; f0 < filters; f0 += 4 * PB_DSP_SVDF_BLOCKS) {
            const int32_t n = filters - f0 < 4 * PB_DSP_SVDF_BLOCKS ? filters - f0 : 4 * PB_DSP_SVDF_BLOCKS;
            f.blocks = (n + 3) >> 2;
            f.w = p->w_feature + f0 * p->input_words;
            f.bias = p->feature_bias + f0;
            pb_dsp_rows4_dots(&f);
            pb_fast_svdf_store(&q, memory, state_zp, acc, f0, n, sb, 0, 0);
        }
    }
}

static void pb_dsp_svdf_s8_features(const pb_fast_svdf_params_t *p, const int8_t *x, uint8_t *sb)
{
    pb_fast_svdf_features(p, x, sb, 0, 0, pb_dsp_dot4);
}

/* acc + the dot product of four int8 values in each of v and t. */
static PB_ALWAYS_INLINE int32_t pb_dsp_svdf_mac4(uint32_t v, uint32_t t, int32_t acc)
{
    return pb_smlad(pb_sxtb16_hi(v), pb_sxtb16_hi(t), pb_smlad(pb_sxtb16(v), pb_sxtb16(t), acc));
}

/* acc + the dot product of the four int8 values in v and four time weights: int8 at t, or
 * (wide) int16 at t16, the pair SMLAD takes against each SXTB16 half of v. */
static PB_ALWAYS_INLINE int32_t pb_dsp_svdf_mac_word(uint32_t v, const int8_t *t, const int32_t *t16, int32_t acc,
                                                     int32_t wide)
{
    if (wide) {
        return pb_smlad(pb_sxtb16_hi(v), (uint32_t)t16[1], pb_smlad(pb_sxtb16(v), (uint32_t)t16[0], acc));
    }
    return pb_dsp_svdf_mac4(v, pb_load32(t), acc);
}

/* The second pass over one batch's state sb (the output's requantization a right shift).
 * memory_c, rank_c: the memory and the rank as constants (the common shapes unroll), or 0
 * to read them from p. wide: the time weights are w_time_wide's int16 pairs (no SXTB16). */
static PB_ALWAYS_INLINE void pb_dsp_svdf_s8_rotate(const pb_fast_svdf_params_t *p, uint8_t *s, int8_t *out,
                                                   int32_t memory_c, int32_t rank_c, int32_t wide)
{
    const pb_fast_svdf_rq_t q = pb_fast_svdf_rq(p->output_mult, p->output_shift, p->fast);
    const int32_t memory = memory_c ? memory_c : p->memory, rank = rank_c ? rank_c : p->rank;
    const int32_t units = p->units, output_zp = p->output_zp;
    const int32_t *unit_bias = p->unit_bias;
    const int8_t *wt = p->w_time;
    const int32_t *wt16 = p->w_time_wide;
    int32_t u;
    for (u = 0; u < units; ++u) {
        int32_t acc = unit_bias[u], r;
        for (r = 0; r < rank; ++r) {
            const uint32_t first = pb_load32(s);
            uint32_t cur = first, v;
            int32_t j;
#if defined(__GNUC__) && !defined(__clang__)
/* memory 32 unrolled whole: GCC leaves a loop of constant 7 passes rolled at -O2 */
#pragma GCC unroll 8
#endif
            for (j = 4; j < memory; j += 4) {
                const uint32_t next = pb_load32(s + 4);
                v = (cur >> 8) | (next << 24);
                pb_store32(s, v);
                acc = pb_dsp_svdf_mac_word(v, wt, wt16, acc, wide);
                cur = next;
                s += 4;
                wt += 4;
                wt16 += 2;
            }
            v = (cur >> 8) | (first << 24);
            pb_store32(s, v);
            acc = pb_dsp_svdf_mac_word(v, wt, wt16, acc, wide);
            s += 4;
            wt += 4;
            wt16 += 2;
        }
        out[u] = (int8_t)pb_ssat8(pb_fast_svdf_requant_right(acc, &q) + output_zp);
    }
}

static void pb_dsp_svdf_s8_words(const pb_fast_svdf_params_t *p, const int8_t *input, int8_t *state,
                                 int8_t *output)
{
    const int32_t per_batch = p->filters * p->memory;
    int32_t b;
    for (b = 0; b < p->batches; ++b) {
        uint8_t *sb = (uint8_t *)state + b * per_batch;
        int8_t *out = output + b * p->units;
        if (p->wide) {
            pb_dsp_svdf_s8_features_wide(p, input + b * p->input_size, sb);
        } else {
            pb_dsp_svdf_s8_features(p, input + b * p->input_size, sb);
        }
        if (p->w_time_wide == NULL) {
            pb_dsp_svdf_s8_rotate(p, sb, out, 0, 0, 0);
        } else if (p->memory == 8 && p->rank == 1) {
            pb_dsp_svdf_s8_rotate(p, sb, out, 8, 1, 1);
        } else if (p->memory == 32 && p->rank == 1) {
            pb_dsp_svdf_s8_rotate(p, sb, out, 32, 1, 1);
        } else {
            pb_dsp_svdf_s8_rotate(p, sb, out, 0, 0, 1);
        }
    }
}

void pb_fast_svdf_s8(const pb_fast_svdf_params_t *p, const int8_t *input, const int8_t *state, int8_t *output)
{
    if (p->memory % 4 == 0 && p->output_shift <= -1) {
        pb_dsp_svdf_s8_words(p, input, (int8_t *)state, output);
    } else if (p->wide) {
        pb_fast_svdf_s8_with(p, input, state, output, pb_dsp_dot4_wide, pb_dsp_svdf_dot_s8);
    } else {
        pb_fast_svdf_s8_with(p, input, state, output, pb_dsp_dot4, pb_dsp_svdf_dot_s8);
    }
}

void pb_fast_svdf_s8_s16(const pb_fast_svdf_params_t *p, const int8_t *input, const int16_t *state, int8_t *output)
{
    if (p->wide) {
        pb_fast_svdf_s8_s16_with(p, input, state, output, pb_dsp_dot4_wide, pb_dsp_svdf_dot_s16);
    } else {
        pb_fast_svdf_s8_s16_with(p, input, state, output, pb_dsp_dot4, pb_dsp_svdf_dot_s16);
    }
}
