/* Fast 16x8 DEPTHWISE_CONV_2D, DSP tier: per output pixel, four channels at a time over
 * the taps inside the input (padding taps read 0 and add nothing), SMLABB / SMLATT on the
 * int16 pairs of inputs and weights (LDRD: the tensors and weights are word-aligned). Weights (wide16.py): [channels / 4][tap][4] int16,
 * two words per tap. The sums stay within int32 (the generator's bound). */
#include "pb_depthwise_conv16.h"

#include "pb_ldrd.h"

/* One tap of four channels: inputs and weights by LDRD, the input pointer on to the next tap. */
#define PB_DW16_TAP()                                                                                                \
    do {                                                                                                             \
        uint32_t x01, x23, w01, w23;                                                                                 \
        pb_ldrd_post(&x, &x01, &x23);                                                                                \
        pb_ldrd_post(&w, &w01, &w23);                                                                                \
        x = (const uint8_t *)x + x_skip;                                                                             \
        a0 = pb_smlabb(x01, w01, a0);                                                                                \
        a1 = pb_smlatt(x01, w01, a1);                                                                                \
        a2 = pb_smlabb(x23, w23, a2);                                                                                \
        a3 = pb_smlatt(x23, w23, a3);                                                                                \
    } while (0)

/* One channel's output before the clamp, its quant words read at *q, which moves past them:
 * for PB_W16_HI one LDRD of K', one LDR of m' and one SMLAL. */
static PB_ALWAYS_INLINE int32_t pb_dw16_out(int32_t acc, const void **q, int mode)
{
    if (mode == PB_W16_HI) {
        uint32_t lo, hi;
        int32_t m;
        pb_ldrd_post(q, &lo, &hi);
        m = *(const int32_t *)*q;
        *q = (const int32_t *)*q + 2;
        return (int32_t)((uint64_t)pb_w16_mac64((int64_t)(((uint64_t)hi << 32) | lo), acc, m) >> 32);
    } else {
        const int32_t r = pb_w16_out32(acc, (const int32_t *)*q, mode);
        *q = (const int32_t *)*q + PB_W16_WORDS;
        return r;
    }
}

static PB_ALWAYS_INLINE void pb_dw16_pixel(const pb_fast_dw16_params_t *p, const int16_t *in_b, int32_t iy0,
                                           int32_t ix0, int16_t *out, int mode, int clamp)
{
    const int32_t c_all = p->channels;
    const int32_t taps = p->filter_h * p->filter_w;
    int32_t ky0, ky1, kx0, kx1, c, nky, nkx, x_skip, row_skip, w_skip;
    const int16_t *x_pix;
    const int32_t *w_pix;
    const int32_t *q = p->quant; /* PB_W16_WORDS per channel, 4 channels a step */
    pb_tap_range(iy0, p->dilation_h, p->filter_h, p->in_h, &ky0, &ky1);
    pb_tap_range(ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
    nky = ky1 - ky0;
    nkx = kx1 - kx0;
    /* byte steps: from a tap's 4 channels to the next tap's, from a filter row's last tap
     * to the next row's first, and the weights past the taps in the padding */
    x_skip = 2 * (p->dilation_w * c_all - 4);
    row_skip = 2 * (p->dilation_h * p->in_w * c_all - nkx * p->dilation_w * c_all);
    w_skip = 8 * (p->filter_w - nkx);
    x_pix = in_b + ((iy0 + ky0 * p->dilation_h) * p->in_w + ix0 + kx0 * p->dilation_w) * c_all;
    w_pix = p->weights + 2 * (ky0 * p->filter_w + kx0);
    for (c = 0; c < c_all; c += 4, x_pix += 4, w_pix += 2 * taps, q += 4 * PB_W16_WORDS) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, ky, kx;
        const void *x = x_pix, *w = w_pix;
        if (mode == PB_W16_MULR) { /* the sums start from the group's 4 biases (two LDRD) */
            const void *qb = q;
            uint32_t b0, b1, b2, b3;
            pb_ldrd_post(&qb, &b0, &b1);
            pb_ldrd_post(&qb, &b2, &b3);
            a0 = (int32_t)b0;
            a1 = (int32_t)b1;
            a2 = (int32_t)b2;
            a3 = (int32_t)b3;
        }
        for (ky = nky; ky > 0; --ky) {
            if (nkx == 3) { /* a 3-wide window inside the input: no loop */
                PB_DW16_TAP();
                PB_DW16_TAP();
                PB_DW16_TAP();
            } else {
                for (kx = nkx; kx > 0; --kx) {
                    PB_DW16_TAP();
                }
            }
            x = (const uint8_t *)x + row_skip;
            w = (const uint8_t *)w + w_skip;
        }
        if (mode == PB_W16_MULR) { /* the group's 4 multipliers after its 4 biases */
            const void *qm = q + 4;
            uint32_t m0, m1, m2, m3;
            pb_ldrd_post(&qm, &m0, &m1);
            pb_ldrd_post(&qm, &m2, &m3);
            out[c] = (int16_t)pb_w16_clamp_form(pb_w16_mulr(a0, (int32_t)m0), p->act_min, p->act_max, clamp);
            out[c + 1] = (int16_t)pb_w16_clamp_form(pb_w16_mulr(a1, (int32_t)m1), p->act_min, p->act_max, clamp);
            out[c + 2] = (int16_t)pb_w16_clamp_form(pb_w16_mulr(a2, (int32_t)m2), p->act_min, p->act_max, clamp);
            out[c + 3] = (int16_t)pb_w16_clamp_form(pb_w16_mulr(a3, (int32_t)m3), p->act_min, p->act_max, clamp);
        } else {
            const void *qc = q;
            out[c] = (int16_t)pb_w16_clamp_form(pb_dw16_out(a0, &qc, mode), p->act_min, p->act_max, clamp);
            out[c + 1] = (int16_t)pb_w16_clamp_form(pb_dw16_out(a1, &qc, mode), p->act_min, p->act_max, clamp);
            out[c + 2] = (int16_t)pb_w16_clamp_form(pb_dw16_out(a2, &qc, mode), p->act_min, p->act_max, clamp);
            out[c + 3] = (int16_t)pb_w16_clamp_form(pb_dw16_out(a3, &qc, mode), p->act_min, p->act_max, clamp);
        }
    }
}

static PB_ALWAYS_INLINE void pb_dw16_all(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output,
                                         int mode, int clamp)
{
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox, output += p->channels) {
                pb_dw16_pixel(p, in_b, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, output, mode,
                              clamp);
            }
        }
    }
}

#define PB_DW16_FORM(name, mode, clamp)                                                                              \
    void name(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output)                                 \
    {                                                                                                                \
        pb_dw16_all(p, input, output, mode, clamp);                                                                  \
    }
PB_DW16_FORMS(PB_DW16_FORM)

