/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8, Helium tier (see pb_lstm.h): the fast tiers' step
 * (pb_fast_recurrent.h) over this tier's dot product, with the gates' activations and the
 * cell four units a vector. */
#include "pb_lstm.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif

/* pb_fast_requant's fast form, four lanes: VQRDMULH is the rounded high multiply of 2 * acc
 * (it saturates only for INT32_MIN times INT32_MIN, never a multiplier), negative lanes
 * less 1 where the shift is a right shift, then VRSHL's rounding right shift. */
static inline int32x4_t pb_mve_lstm_rq(int32x4_t acc, const pb_fast_rq_t *q)
{
    const int32x4_t v = vqrdmulhq_n_s32(acc, q->mult);
    return vrshlq_n_s32(vaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), vdupq_n_s32(q->negative))), -q->rshift);
}

static inline int32x4_t pb_mve_lstm_clamp(int32x4_t v, int32_t lo, int32_t hi)
{
    return vmaxq_s32(vminq_s32(v, vdupq_n_s32(hi)), vdupq_n_s32(lo));
}

/* pb_fast_lstm_sigmoid, four lanes: the table's two nodes by gather loads. */
static inline int32x4_t pb_mve_lstm_sigmoid(const uint16_t *table, int32x4_t x)
{
    const int32x4_t v = vmulq_n_s32(x, 3);
    const uint32x4_t s = vreinterpretq_u32_s32(vshrq_n_s32(v, 31));
    const uint32x4_t ax = vreinterpretq_u32_s32(vabsq_s32(v)), node = vshrq_n_u32(ax, 9);
    const uint32x4_t a = vldrhq_gather_shifted_offset_u32(table, node);
    const uint32x4_t d = vsubq_u32(vldrhq_gather_shifted_offset_u32(table + 1, node), a);
    uint32x4_t r = vaddq_u32(vshlq_n_u32(a, 9), vmulq_u32(vandq_u32(ax, vdupq_n_u32(0x1FFu)), d));
    r = vaddq_u32(veorq_u32(r, s), vandq_u32(s, vdupq_n_u32(1u << 25)));
    return vreinterpretq_s32_u32(vshrq_n_u32(vaddq_n_u32(r, 1u << 9), 10));
}

/* pb_fast_lstm_tanh, four lanes, of v already on the table's grid. */
static inline int32x4_t pb_mve_lstm_tanh(const uint16_t *table, int32x4_t v)
{
    const int32x4_t s = vshrq_n_s32(v, 31);
    const uint32x4_t ax = vminq_u32(vreinterpretq_u32_s32(vabsq_s32(v)), vdupq_n_u32(0xFFFFu));
    const uint32x4_t node = vshrq_n_u32(ax, 8);
    const uint32x4_t a = vldrhq_gather_shifted_offset_u32(table, node);
    const uint32x4_t d = vsubq_u32(vldrhq_gather_shifted_offset_u32(table + 1, node), a);
    const uint32x4_t frac = vandq_u32(ax, vdupq_n_u32(0xFFu));
    const int32x4_t r = vreinterpretq_s32_u32(vaddq_u32(vshlq_n_u32(a, 8), vmulq_u32(frac, d)));
    const int32x4_t t = vaddq_s32(veorq_s32(r, s), vandq_s32(s, vdupq_n_s32(1 << 24)));
    return vshrq_n_s32(vaddq_n_s32(t, (1 << 7) - (1 << 23)), 8);
}

/* One gate of the chunk, four units a vector: acc[u][k] and acc[u][4 + k] of four units by
 * gather loads (a unit's eight accumulators are eight words apart), the activation
 * (pb_fast_lstm_finish's) scattered back to acc[u][k]. */
static inline void pb_mve_lstm_gate(const pb_fast_lstm_params_t *p, int32_t k, int32_t count, int32_t (*acc)[8],
                                    int32_t is_tanh)
{
    const pb_fast_rq_t qi = pb_fast_rq(p->mults[k], p->shifts[k]), qr = pb_fast_rq(p->mults[4 + k], p->shifts[4 + k]);
    const uint32x4_t rows = vmulq_n_u32(vidupq_n_u32(0, 1), 8);
    int32_t u;
    for (u = 0; u < count; u += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(count - u));
        int32_t *in = &acc[u][k];
        const int32x4_t a =
            pb_mve_lstm_clamp(pb_mve_lstm_rq(vldrwq_gather_shifted_offset_z_s32(in, rows, pr), &qi), -32768, 32767);
        const int32x4_t r =
            pb_mve_lstm_clamp(pb_mve_lstm_rq(vldrwq_gather_shifted_offset_z_s32(in + 4, rows, pr), &qr), -32768, 32767);
        const int32x4_t g = pb_mve_lstm_clamp(vaddq_s32(a, r), -32768, 32767);
        vstrwq_scatter_shifted_offset_p_s32(in, rows, is_tanh ? pb_mve_lstm_tanh(p->sigmoid, vmulq_n_s32(g, 3))
                                                              : pb_mve_lstm_sigmoid(p->sigmoid, g), pr);
    }
}

/* Phases 2 and 3 of a chunk (pb_fast_lstm_finish), four units a vector where every
 * requantization is the fast form; the scalar form otherwise. */
static void pb_mve_lstm_finish(const pb_fast_lstm_params_t *p, int32_t count, int32_t (*acc)[8], int16_t *cell,
                               int8_t *out)
{
    const pb_fast_rq_t qf = pb_fast_rq(p->forget_mult, p->forget_shift);
    const pb_fast_rq_t qu = pb_fast_rq(p->update_mult, p->update_shift);
    const pb_fast_rq_t qh = pb_fast_rq(p->hidden_mult, p->hidden_shift);
    const int32_t tanh_shift = p->cell_tanh_shift;
    const int32_t tanh_round = tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0;
    const int32_t clip = p->cell_clip;
    const uint32x4_t rows = vmulq_n_u32(vidupq_n_u32(0, 1), 8);
    int32_t u;
    if (!p->fast) {
        pb_fast_lstm_finish(p, count, acc, cell, out);
        return;
    }
    pb_mve_lstm_gate(p, 0, count, acc, 0);
    pb_mve_lstm_gate(p, 1, count, acc, 0);
    pb_mve_lstm_gate(p, 2, count, acc, 1);
    pb_mve_lstm_gate(p, 3, count, acc, 0);
    for (u = 0; u < count; u += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(count - u));
        const int32x4_t i = vldrwq_gather_shifted_offset_z_s32(&acc[u][0], rows, pr);
        const int32x4_t f = vldrwq_gather_shifted_offset_z_s32(&acc[u][1], rows, pr);
        const int32x4_t g = vldrwq_gather_shifted_offset_z_s32(&acc[u][2], rows, pr);
        const int32x4_t o = vldrwq_gather_shifted_offset_z_s32(&acc[u][3], rows, pr);
        const int32x4_t c = vldrhq_z_s32(cell + u, pr);
        int32x4_t v = vaddq_s32(pb_mve_lstm_clamp(pb_mve_lstm_rq(vmulq_s32(f, c), &qf), -32768, 32767),
                                pb_mve_lstm_clamp(pb_mve_lstm_rq(vmulq_s32(i, g), &qu), -32768, 32767));
        v = pb_mve_lstm_clamp(v, -32768, 32767);
        if (clip >= 0) {
            v = pb_mve_lstm_clamp(v, -clip, clip);
        }
        vstrhq_p_s32(cell + u, v, pr);
        v = vshlq_r_s32(vaddq_n_s32(vmulq_n_s32(v, p->cell_tanh_mult), tanh_round), -tanh_shift);
        v = vmulq_s32(pb_mve_lstm_tanh(p->sigmoid, v), o);
        /* the int8 hidden state's range is int8's whole range (hidden_min, hidden_max) */
        vstrbq_p_s32(out + u, pb_mve_lstm_clamp(vaddq_n_s32(pb_mve_lstm_rq(v, &qh), p->hidden_zp), -128, 127), pr);
    }
}

void pb_fast_mve_lstm_s8(const pb_fast_mve_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                         const int16_t *cell, int8_t *output)
{
    pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_mve_dot4, pb_mve_lstm_finish);
}
