/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8, Helium tier (see pb_lstm.h): the fast tiers' step
 * (pb_fast_recurrent.h) over this tier's dot product, with the gates' activations and the
 * cell four units a vector. */
#include "pb_lstm.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif

/* The finish below keeps its constants in general-purpose registers and uses the Helium
 * forms that take a scalar operand, or none (saturating shifts for the clamps): vector
 * constants would crowd the eight vector registers, and GCC 12 spills and reloads them. */

/* pb_fast_requant's fast form, four lanes: VQRDMULH is the rounded high multiply of 2 * acc
 * (it saturates only for INT32_MIN times INT32_MIN, never a multiplier), negative lanes less
 * 1 where the shift is a right shift (neg1: 1 there, else 0), then VRSHL's rounding right
 * shift. */
static inline int32x4_t pb_mve_lstm_rq(int32x4_t acc, int32_t mult, int32_t neg1, int32_t rshift)
{
    const int32x4_t v = vqrdmulhq_n_s32(acc, mult);
    return vrshlq_n_s32(vmlaq_n_s32(v, vshrq_n_s32(v, 31), neg1), -rshift);
}

/* Saturation to int8: a saturating shift to the top of the word and back. */
static inline int32x4_t pb_mve_lstm_sat8(int32x4_t v)
{
    return vshrq_n_s32(vqshlq_n_s32(v, 24), 24);
}

/* sat16(sat16(a) + sat16(b)): both saturated to the top halfword, added with saturation
 * there (the low halves are zero), shifted back. */
static inline int32x4_t pb_mve_lstm_sat16_add(int32x4_t a, int32x4_t b)
{
    return vshrq_n_s32(vqaddq_s32(vqshlq_n_s32(a, 16), vqshlq_n_s32(b, 16)), 16);
}

/* pb_fast_lstm_sigmoid, four lanes: the table's two nodes by gather loads; negative lanes
 * (s all ones) take 2^25 - 1 - r, as r ^ s plus s times -2^25. */
static inline int32x4_t pb_mve_lstm_sigmoid(const uint16_t *table, int32x4_t x)
{
    const int32x4_t v = vmulq_n_s32(x, 3), s = vshrq_n_s32(v, 31);
    const uint32x4_t ax = vreinterpretq_u32_s32(vabsq_s32(v)), node = vshrq_n_u32(ax, 9);
    const uint32x4_t a = vldrhq_gather_shifted_offset_u32(table, node);
    const uint32x4_t d = vsubq_u32(vldrhq_gather_shifted_offset_u32(table + 1, node), a);
    const uint32x4_t frac = vshrq_n_u32(vshlq_n_u32(ax, 23), 23);
    const int32x4_t r = vreinterpretq_s32_u32(vmlaq_n_u32(vmulq_u32(frac, d), a, 1u << 9));
    const int32x4_t t = vmlaq_n_s32(veorq_s32(r, s), s, -(1 << 25));
    return vreinterpretq_s32_u32(vshrq_n_u32(vaddq_n_u32(vreinterpretq_u32_s32(t), 1u << 9), 10));
}

/* pb_fast_lstm_tanh, four lanes, of v already on the table's grid; |v| saturated to 0xFFFF
 * by an unsigned saturating shift. */
static inline int32x4_t pb_mve_lstm_tanh(const uint16_t *table, int32x4_t v)
{
    const int32x4_t s = vshrq_n_s32(v, 31);
    const uint32x4_t ax = vshrq_n_u32(vqshlq_n_u32(vreinterpretq_u32_s32(vabsq_s32(v)), 16), 16);
    const uint32x4_t node = vshrq_n_u32(ax, 8);
    const uint32x4_t a = vldrhq_gather_shifted_offset_u32(table, node);
    const uint32x4_t d = vsubq_u32(vldrhq_gather_shifted_offset_u32(table + 1, node), a);
    const uint32x4_t frac = vshrq_n_u32(vshlq_n_u32(ax, 24), 24);
    const int32x4_t r = vreinterpretq_s32_u32(vmlaq_n_u32(vmulq_u32(frac, d), a, 1u << 8));
    const int32x4_t t = vmlaq_n_s32(veorq_s32(r, s), s, -(1 << 24));
    return vshrq_n_s32(vaddq_n_s32(t, (1 << 7) - (1 << 23)), 8);
}

/* One gate of the chunk, four units a vector: acc[u][k] and acc[u][4 + k] of four units by
 * gather loads (a unit's eight accumulators are eight words apart), each requantized, added
 * with saturation, the activation scattered back to acc[u][k]. Over whole vectors: the rows
 * past count, up to the next multiple of 4 (within the chunk's buffer, whose rows are a
 * multiple of 4), are computed too and never read; any int32 there stays within the table. */
static inline void pb_mve_lstm_gate(const uint16_t *table, const pb_fast_rq_t *qg, int32_t k, int32_t count,
                                    int32_t (*acc)[8], int32_t is_tanh)
{
    const int32_t mi = qg[k].mult, ni = -qg[k].negative, si = qg[k].rshift;
    const int32_t mr = qg[4 + k].mult, nr = -qg[4 + k].negative, sr = qg[4 + k].rshift;
    const uint32x4_t rows = vmulq_n_u32(vidupq_n_u32(0, 1), 8);
    int32_t u;
    for (u = 0; u < count; u += 4) {
        int32_t *in = &acc[u][k];
        const int32x4_t g = pb_mve_lstm_sat16_add(pb_mve_lstm_rq(vldrwq_gather_shifted_offset_s32(in, rows), mi, ni, si),
                                                  pb_mve_lstm_rq(vldrwq_gather_shifted_offset_s32(in + 4, rows), mr, nr, sr));
        vstrwq_scatter_shifted_offset_s32(in, rows, is_tanh ? pb_mve_lstm_tanh(table, vmulq_n_s32(g, 3))
                                                            : pb_mve_lstm_sigmoid(table, g));
    }
}

/* Phases 2 and 3 of a chunk (pb_fast_lstm_finish), four units a vector where every
 * requantization is the fast form; the scalar form otherwise. q: pb_mve_lstm_consts'. */
static void pb_mve_lstm_finish_with(const pb_fast_lstm_params_t *p, const pb_fast_rq_t *q, int32_t count,
                                    int32_t (*acc)[8], int16_t *cell, int8_t *out)
{
    const int32_t mf = q[8].mult, nf = -q[8].negative, sf = q[8].rshift;
    const int32_t mu = q[9].mult, nu = -q[9].negative, su = q[9].rshift;
    const int32_t mh = q[10].mult, nh = -q[10].negative, sh = q[10].rshift;
    const int32_t tanh_shift = p->cell_tanh_shift;
    const int32_t tanh_round = tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0;
    const int32_t clip = p->cell_clip, tanh_mult = p->cell_tanh_mult, hidden_zp = p->hidden_zp;
    const uint16_t *table = p->sigmoid; /* these read once: the cell and output stores may alias *p */
    const uint32x4_t rows = vmulq_n_u32(vidupq_n_u32(0, 1), 8);
    int32_t u;
    if (!p->fast) {
        pb_fast_lstm_finish(p, count, acc, cell, out);
        return;
    }
    pb_mve_lstm_gate(table, q, 0, count, acc, 0);
    pb_mve_lstm_gate(table, q, 1, count, acc, 0);
    pb_mve_lstm_gate(table, q, 2, count, acc, 1);
    pb_mve_lstm_gate(table, q, 3, count, acc, 0);
    for (u = 0; u < count; u += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(count - u));
        const int32x4_t i = vldrwq_gather_shifted_offset_s32(&acc[u][0], rows);
        const int32x4_t f = vldrwq_gather_shifted_offset_s32(&acc[u][1], rows);
        const int32x4_t g = vldrwq_gather_shifted_offset_s32(&acc[u][2], rows);
        const int32x4_t o = vldrwq_gather_shifted_offset_s32(&acc[u][3], rows);
        int32x4_t v = pb_mve_lstm_sat16_add(pb_mve_lstm_rq(vmulq_s32(f, vldrhq_z_s32(cell + u, pr)), mf, nf, sf),
                                            pb_mve_lstm_rq(vmulq_s32(i, g), mu, nu, su));
        if (clip >= 0) {
            v = vmaxq_s32(vminq_s32(v, vdupq_n_s32(clip)), vdupq_n_s32(-clip));
        }
        vstrhq_p_s32(cell + u, v, pr);
        v = vshlq_r_s32(vaddq_n_s32(vmulq_n_s32(v, tanh_mult), tanh_round), -tanh_shift);
        v = vmulq_s32(pb_mve_lstm_tanh(table, v), o);
        /* the int8 hidden state's range is int8's whole range (hidden_min, hidden_max) */
        vstrbq_p_s32(out + u, pb_mve_lstm_sat8(vaddq_n_s32(pb_mve_lstm_rq(v, mh, nh, sh), hidden_zp)), pr);
    }
}

/* The requantizations' constants taken apart (pb_fast_rq): the 8 gate layers', then the
 * forget product's, the update product's and the hidden value's; once per call. */
static void pb_mve_lstm_consts(const pb_fast_lstm_params_t *p, pb_fast_rq_t *q)
{
    int32_t k;
    for (k = 0; k < 8; ++k) {
        q[k] = pb_fast_rq(p->mults[k], p->shifts[k]);
    }
    q[8] = pb_fast_rq(p->forget_mult, p->forget_shift);
    q[9] = pb_fast_rq(p->update_mult, p->update_shift);
    q[10] = pb_fast_rq(p->hidden_mult, p->hidden_shift);
}

/* pb_mve_lstm_finish_with as the general step (pb_fast_lstm_s8_with) takes it. */
static void pb_mve_lstm_finish(const pb_fast_lstm_params_t *p, int32_t count, int32_t (*acc)[8], int16_t *cell,
                               int8_t *out)
{
    pb_fast_rq_t q[11];
    pb_mve_lstm_consts(p, q);
    pb_mve_lstm_finish_with(p, q, count, acc, cell, out);
}

/* Units per pass of the padded step: their accumulators on the stack, 1 KiB. */
#define PB_MVE_LSTM_CHUNK 32

/* The step's input and hidden vectors are at most this many vectors long for the padded form
 * below; longer ones take the general step. */
#define PB_MVE_LSTM_PAD_VECTORS 8

/* n int8 values of x into buf, whole vectors of them, by predicated loads and stores: the
 * bytes past n in buf are whatever the last vector's load gave (zero), and the rows they
 * meet are zero there, so the dot products load whole vectors without a predicate. */
static inline void pb_mve_lstm_pad(int8_t *buf, const int8_t *x, int32_t n)
{
    int32_t k;
    for (k = 0; k < n; k += 16) {
        vstrbq_s8(buf + k, vldrbq_z_s8(x + k, vctp8q((uint32_t)(n - k))));
    }
}

/* Phase 1 of a chunk with the input and hidden vectors padded (pb_mve_lstm_pad): each unit's
 * eight accumulators in registers, from its constants, over whole vectors. */
static void pb_mve_lstm_dots(const int8_t *xb, int32_t xvecs, const int8_t *hb, int32_t hvecs, const int8_t *wi,
                             const int8_t *wr, const int32_t *bias, int32_t count, int32_t (*acc)[8])
{
    int32_t u, k;
    for (u = 0; u < count; ++u, bias += 8) {
        int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
        int32_t r0 = bias[4], r1 = bias[5], r2 = bias[6], r3 = bias[7];
        for (k = 0; k < xvecs; ++k, wi += 64) {
            const int8x16_t xv = vldrbq_s8(xb + 16 * k);
            a0 = vmladavaq_s8(a0, xv, vldrbq_s8(wi));
            a1 = vmladavaq_s8(a1, xv, vldrbq_s8(wi + 16));
            a2 = vmladavaq_s8(a2, xv, vldrbq_s8(wi + 32));
            a3 = vmladavaq_s8(a3, xv, vldrbq_s8(wi + 48));
        }
        for (k = 0; k < hvecs; ++k, wr += 64) {
            const int8x16_t hv = vldrbq_s8(hb + 16 * k);
            r0 = vmladavaq_s8(r0, hv, vldrbq_s8(wr));
            r1 = vmladavaq_s8(r1, hv, vldrbq_s8(wr + 16));
            r2 = vmladavaq_s8(r2, hv, vldrbq_s8(wr + 32));
            r3 = vmladavaq_s8(r3, hv, vldrbq_s8(wr + 48));
        }
        acc[u][0] = a0;
        acc[u][1] = a1;
        acc[u][2] = a2;
        acc[u][3] = a3;
        acc[u][4] = r0;
        acc[u][5] = r1;
        acc[u][6] = r2;
        acc[u][7] = r3;
    }
}

/* pb_mve_lstm_dots for input and hidden vectors of one or two vectors each, in inline
 * assembly: GCC 12 spills the vectors held over the loop and moves the accumulators
 * through the stack around VMLADAV, whose accumulator must be an even register (81
 * instructions a unit where this takes 41). The input and hidden vectors sit in q0, q1
 * and q2, q3 over the chunk; per unit, four accumulators in r0, r2, r8 and r10 start
 * from the biases, take one row of weights each per vector (the rows interleaved vector
 * by vector, so one pointer walks them) and are stored, first the input layer's, then
 * the recurrent layer's. */
#define PB_MVE_LSTM_ROWS(q, w) PB_MVE_ROWS4(q, w, "q4", "q5")
#define PB_MVE_LSTM_BIAS "ldrd r0, r2, [%[bias]], #8\n\tldrd r8, r10, [%[bias]], #8\n\t"
#define PB_MVE_LSTM_STORE "strd r0, r2, [%[acc]], #8\n\tstrd r8, r10, [%[acc]], #8\n\t"
#define PB_MVE_LSTM_DOTS(XROWS, HROWS)                                                         \
    do {                                                                                       \
        register int32_t a0 __asm__("r0"), a1 __asm__("r2"), a2 __asm__("r8"), a3 __asm__("r10"); \
        __asm__ volatile("vldrb.8 q0, [%[xb]]\n\tvldrb.8 q1, [%[xb], #16]\n\t"                  \
                         "vldrb.8 q2, [%[hb]]\n\tvldrb.8 q3, [%[hb], #16]\n\t"                  \
                         "dls lr, %[n]\n"                                                      \
                         "1:\n\t" PB_MVE_LSTM_BIAS XROWS PB_MVE_LSTM_STORE                     \
                         PB_MVE_LSTM_BIAS HROWS PB_MVE_LSTM_STORE "le lr, 1b\n\t"              \
                         : "=&r"(a0), "=&r"(a1), "=&r"(a2), "=&r"(a3), [wi] "+r"(wi), [wr] "+r"(wr), \
                           [bias] "+r"(bias), [acc] "+r"(accp)                                \
                         : [xb] "r"(xb), [hb] "r"(hb), [n] "r"(count)                          \
                         : "q0", "q1", "q2", "q3", "q4", "q5", "lr", "memory", "cc");           \
        (void)a0, (void)a1, (void)a2, (void)a3;                                                \
    } while (0)

/* Phase 1 of a chunk: the assembly above for one or two vectors of each (xb and hb hold
 * two whole vectors either way: the second, where unused, is never multiplied), the
 * general loop otherwise. */
static void pb_mve_lstm_chunk_dots(const int8_t *xb, int32_t xvecs, const int8_t *hb, int32_t hvecs,
                                   const int8_t *wi, const int8_t *wr, const int32_t *bias, int32_t count,
                                   int32_t (*acc)[8])
{
    int32_t *accp = &acc[0][0];
    if (xvecs == 1 && hvecs == 1) {
        PB_MVE_LSTM_DOTS(PB_MVE_LSTM_ROWS("q0", "wi"), PB_MVE_LSTM_ROWS("q2", "wr"));
    } else if (xvecs == 1 && hvecs == 2) {
        PB_MVE_LSTM_DOTS(PB_MVE_LSTM_ROWS("q0", "wi"), PB_MVE_LSTM_ROWS("q2", "wr") PB_MVE_LSTM_ROWS("q3", "wr"));
    } else if (xvecs == 2 && hvecs == 1) {
        PB_MVE_LSTM_DOTS(PB_MVE_LSTM_ROWS("q0", "wi") PB_MVE_LSTM_ROWS("q1", "wi"), PB_MVE_LSTM_ROWS("q2", "wr"));
    } else if (xvecs == 2 && hvecs == 2) {
        PB_MVE_LSTM_DOTS(PB_MVE_LSTM_ROWS("q0", "wi") PB_MVE_LSTM_ROWS("q1", "wi"),
                         PB_MVE_LSTM_ROWS("q2", "wr") PB_MVE_LSTM_ROWS("q3", "wr"));
    } else {
        pb_mve_lstm_dots(xb, xvecs, hb, hvecs, wi, wr, bias, count, acc);
    }
}
#undef PB_MVE_LSTM_ROWS
#undef PB_MVE_LSTM_BIAS
#undef PB_MVE_LSTM_STORE
#undef PB_MVE_LSTM_DOTS

/* The step of pb_fast_lstm_s8_with, its input and hidden vectors padded once per step. */
void pb_fast_mve_lstm_s8(const pb_fast_mve_lstm_params_t *p, const int8_t *input, const int8_t *hidden,
                         const int16_t *cell, int8_t *output)
{
    const int32_t n = p->units, depth = p->input_size;
    const int32_t xvecs = (depth + 15) / 16, hvecs = (n + 15) / 16;
    int8_t xb[16 * PB_MVE_LSTM_PAD_VECTORS] __attribute__((aligned(16)));
    int8_t hb[16 * PB_MVE_LSTM_PAD_VECTORS] __attribute__((aligned(16)));
    int32_t acc[PB_MVE_LSTM_CHUNK][8];
    pb_fast_rq_t q[11];
    int32_t b, t, u0;
    if (xvecs > PB_MVE_LSTM_PAD_VECTORS || hvecs > PB_MVE_LSTM_PAD_VECTORS) {
        pb_fast_lstm_s8_with(p, input, hidden, cell, output, pb_mve_dot4, pb_mve_lstm_finish);
        return;
    }
    pb_mve_lstm_consts(p, q);
    for (b = 0; b < p->batches; ++b) {
        int8_t *h = (int8_t *)hidden + b * n;
        int16_t *c = (int16_t *)cell + b * n;
        for (t = 0; t < p->steps; ++t) {
            const int32_t row = p->time_major ? t * p->batches + b : b * p->steps + t;
            int8_t *out = output + row * n;
            pb_mve_lstm_pad(xb, input + row * depth, depth);
            pb_mve_lstm_pad(hb, h, n);
            for (u0 = 0; u0 < n; u0 += PB_MVE_LSTM_CHUNK) {
                const int32_t count = n - u0 < PB_MVE_LSTM_CHUNK ? n - u0 : PB_MVE_LSTM_CHUNK;
                pb_mve_lstm_chunk_dots(xb, xvecs, hb, hvecs, (const int8_t *)(p->w_input + u0 * 4 * p->input_words),
                                 (const int8_t *)(p->w_recurrent + u0 * 4 * p->unit_words), p->bias + u0 * 8, count,
                                 acc);
                pb_mve_lstm_finish_with(p, q, count, acc, c + u0, out + u0);
            }
            /* every unit has read the old hidden state (from hb): the new one replaces it */
            memcpy(h, out, (size_t)n);
        }
    }
}
