/* Fast 16x8 DEPTHWISE_CONV_2D, Helium tier: per output pixel, four channels at a time in
 * int32 lanes over the taps inside the input (padding taps read 0 and add nothing): inputs
 * and weights loaded widened (VLDRH.S32), multiplied and added lane by lane. Weights
 * (wide16.py): [channels / 4][tap][4] int16. The sums stay within int32 (the generator's
 * bound). */
#include "pb_depthwise_conv16.h"

#include "pb_helium.h"

static PB_MVE_INLINE void pb_mve_dw16_pixel(const pb_fast_dw16_params_t *p, const int16_t *in_b, int32_t iy0,
                                            int32_t ix0, int16_t *out, int mode)
{
    const int32_t c_all = p->channels;
    const int32_t taps = p->filter_h * p->filter_w;
    const int32_t x_step = p->dilation_w * c_all;
    const int16_t *wg = (const int16_t *)p->weights;
    const int32_t *q = p->quant;
    int32_t ky0, ky1, kx0, kx1, c, j;
    pb_tap_range(iy0, p->dilation_h, p->filter_h, p->in_h, &ky0, &ky1);
    pb_tap_range(ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
    for (c = 0; c < c_all; c += 4, wg += 4 * taps, q += 4 * PB_W16_WORDS) {
        int32x4_t acc = vdupq_n_s32(0);
        int32_t s[4];
        int32_t ky;
        for (ky = ky0; ky < ky1; ++ky) {
            const int16_t *x = in_b + ((iy0 + ky * p->dilation_h) * p->in_w + ix0 + kx0 * p->dilation_w) * c_all + c;
            const int16_t *w = wg + 4 * (ky * p->filter_w + kx0);
            int32_t kx;
            for (kx = kx0; kx < kx1; ++kx, x += x_step, w += 4) {
                acc = vaddq_s32(acc, vmulq_s32(vldrhq_s32(x), vldrhq_s32(w)));
            }
        }
        vst1q_s32(s, acc);
        for (j = 0; j < 4; ++j) {
            out[c + j] = (int16_t)pb_w16_clamp(pb_w16_out32(s[j], q + j * PB_W16_WORDS, mode), p->act_min, p->act_max);
        }
    }
}

static PB_MVE_INLINE void pb_mve_dw16_all(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output,
                                          int mode)
{
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox, output += p->channels) {
                pb_mve_dw16_pixel(p, in_b, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, output,
                                  mode);
            }
        }
    }
}

void pb_fast_mve_dw_s16(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output)
{
    if (p->requant == PB_W16_HI) {
        pb_mve_dw16_all(p, input, output, PB_W16_HI);
    } else {
        pb_mve_dw16_all(p, input, output, PB_W16_R64);
    }
}
