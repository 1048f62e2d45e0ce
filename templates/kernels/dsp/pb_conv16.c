/* Fast 16x8 CONV_2D / FULLY_CONNECTED, DSP tier: two rows (output pixels) by two output
 * channels at a time, SMLAD on int16 pairs. The activations are int16 already, so the rows
 * need no widening; the weights are widened from int8 with SXTB16, or stored as int16.
 *
 * Weights (protobrain/compiler/ops/tiers/wide16.py): output channels in pairs (an odd last
 * channel paired with zeros), depth in blocks of 4 taps; per pair and block, channel 2b's
 * word then channel 2b+1's, each the bytes w0, w2, w1, w3 (SXTB16 gives (w0, w1), its
 * ROR #8 form (w2, w3)); wide: per channel two words of int16 pairs (w0, w1), (w2, w3). */
#include "pb_conv16.h"

#include <string.h>

#include "pb_ldrd.h"

typedef struct {
    int32_t a00, a01, a10, a11; /* row, channel */
} pb_mm16_acc_t;

/* Two rows times one channel pair over `blocks` blocks of 4 taps, summed in int32. xs:
 * the rows interleaved by block (row 0's 4 taps, then row 1's: one pointer for both),
 * word-aligned like the weights. Loads are ordered so 13 registers hold the loop. */
static PB_ALWAYS_INLINE pb_mm16_acc_t pb_mm16_dot(const int16_t *xs, const int32_t *weights, int32_t blocks, int wide)
{
    pb_mm16_acc_t a = {0, 0, 0, 0};
    const void *x = xs, *w = weights;
    for (; blocks > 0; --blocks) {
        uint32_t x0a, x0b, x1a, x1b, wa, wb;
        pb_ldrd_post(&x, &x0a, &x0b);
        pb_ldrd_post(&x, &x1a, &x1b);
        if (wide) {
            pb_ldrd_post(&w, &wa, &wb);
        } else {
            const uint32_t c = *(const uint32_t *)w;
            w = (const uint32_t *)w + 1;
            wa = pb_sxtb16(c);
            wb = pb_sxtb16_hi(c);
        }
        a.a00 = pb_smlad(x0a, wa, a.a00);
        a.a10 = pb_smlad(x1a, wa, a.a10);
        a.a00 = pb_smlad(x0b, wb, a.a00);
        a.a10 = pb_smlad(x1b, wb, a.a10);
        if (wide) {
            pb_ldrd_post(&w, &wa, &wb);
        } else {
            const uint32_t c = *(const uint32_t *)w;
            w = (const uint32_t *)w + 1;
            wa = pb_sxtb16(c);
            wb = pb_sxtb16_hi(c);
        }
        a.a01 = pb_smlad(x0a, wa, a.a01);
        a.a11 = pb_smlad(x1a, wa, a.a11);
        a.a01 = pb_smlad(x0b, wb, a.a01);
        a.a11 = pb_smlad(x1b, wb, a.a11);
    }
    return a;
}

/* Rows x0 and x1 interleaved by blocks of 4 taps into xs (word moves). */
static PB_ALWAYS_INLINE void pb_mm16_interleave(const int16_t *x0, const int16_t *x1, int16_t *xs, int32_t blocks)
{
    for (; blocks > 0; --blocks, x0 += 4, x1 += 4, xs += 8) {
        memcpy(xs, x0, 8);
        memcpy(xs + 4, x1, 8);
    }
}

/* The interleaved rows through every channel pair, into out0 and out1 (out1 only when
 * `two`). Layer constants (mode, wide, clamp) are arguments of inlined functions: each form
 * below is its own code with them folded in. */
static PB_ALWAYS_INLINE void pb_mm16_rows(const pb_fast_mm16_params_t *p, const int16_t *xs, int16_t *out0,
                                          int16_t *out1, int two, int mode, int wide, int clamp)
{
    const int32_t blocks = p->depth_pad >> 2;
    const int32_t pair_words = blocks * (wide ? 4 : 2);
    /* HI: the output offset is folded into K'; MULR: the generator takes it for offset 0 only */
    const int32_t offset = mode == PB_W16_HI || mode == PB_W16_MULR ? 0 : p->output_offset;
    const int32_t *w = p->weights;
    const int32_t *q = p->quant;
    int32_t c;
    for (c = 0; c < p->out_c; c += 2, w += pair_words, q += 2 * PB_W16_WORDS) {
        int32_t r00, r01, r10, r11;
        if (mode == PB_W16_R64 && p->chunk < blocks) {
            /* int32 partial sums of `chunk` blocks, each within int32 by the generator's bound */
            int64_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
            int32_t done = 0;
            while (done < blocks) {
                const int32_t n = PB_MIN(p->chunk, blocks - done);
                const pb_mm16_acc_t a = pb_mm16_dot(xs + 8 * done, w + done * (wide ? 4 : 2), n, wide);
                s00 += a.a00;
                s01 += a.a01;
                s10 += a.a10;
                s11 += a.a11;
                done += n;
            }
            r00 = pb_w16_out64(s00, q);
            r01 = pb_w16_out64(s01, q + PB_W16_WORDS);
            r10 = pb_w16_out64(s10, q);
            r11 = pb_w16_out64(s11, q + PB_W16_WORDS);
        } else {
            const pb_mm16_acc_t a = pb_mm16_dot(xs, w, blocks, wide);
            r00 = pb_w16_out32(a.a00, q, mode);
            r01 = pb_w16_out32(a.a01, q + PB_W16_WORDS, mode);
            r10 = pb_w16_out32(a.a10, q, mode);
            r11 = pb_w16_out32(a.a11, q + PB_W16_WORDS, mode);
        }
        out0[c] = (int16_t)pb_w16_clamp_form(r00 + offset, p->act_min, p->act_max, clamp);
        if (two) {
            out1[c] = (int16_t)pb_w16_clamp_form(r10 + offset, p->act_min, p->act_max, clamp);
        }
        if (c + 1 < p->out_c) {
            out0[c + 1] = (int16_t)pb_w16_clamp_form(r01 + offset, p->act_min, p->act_max, clamp);
            if (two) {
                out1[c + 1] = (int16_t)pb_w16_clamp_form(r11 + offset, p->act_min, p->act_max, clamp);
            }
        }
    }
}

static PB_ALWAYS_INLINE void pb_mm16_all(const pb_fast_mm16_params_t *p, const int16_t *input, int16_t *output,
                                         int16_t *scratch, int mode, int wide, int clamp)
{
    /* scratch: the interleaved pair, then (unless direct) the two im2col rows */
    int16_t *xs = scratch, *rows = scratch + 2 * p->depth_pad;
    const int32_t blocks = p->depth_pad >> 2;
    pb_f16_window_t win;
    int32_t r;
    pb_f16_window_start(p, input, &win);
    for (r = 0; r < p->rows; r += 2, output += 2 * p->out_c) {
        const int16_t *x0 = pb_f16_row(p, &win, rows), *x1 = x0;
        const int two = r + 1 < p->rows;
        pb_f16_window_next(p, &win);
        if (two) {
            x1 = pb_f16_row(p, &win, rows + p->depth_pad);
            pb_f16_window_next(p, &win);
        }
        pb_mm16_interleave(x0, x1, xs, blocks);
        if (two) {
            pb_mm16_rows(p, xs, output, output + p->out_c, 1, mode, wide, clamp);
        } else {
            pb_mm16_rows(p, xs, output, output, 0, mode, wide, clamp);
        }
    }
}

/* The forms: weights (wide int16 or int8), requantization, clamp. */
#define PB_MM16_FORM(name, mode, wide, clamp)                                                                        \
    void name(const pb_fast_mm16_params_t *p, const int16_t *input, int16_t *output, void *scratch)                 \
    {                                                                                                                \
        pb_mm16_all(p, input, output, (int16_t *)scratch, mode, wide, clamp);                                        \
    }
PB_MM16_FORMS(PB_MM16_FORM)

