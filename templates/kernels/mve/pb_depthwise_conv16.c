/* Fast 16x8 DEPTHWISE_CONV_2D, Helium tier: per output pixel, four channels at a time in
 * int32 lanes over the taps inside the input (padding taps read 0 and add nothing): inputs
 * and weights loaded widened (VLDRH.S32), multiplied and added lane by lane; a 3-wide
 * window unrolled. Weights
 * (wide16.py): [channels / 4][tap][4] int16. The sums stay within int32 (the generator's
 * bound). */
#include "pb_depthwise_conv16.h"

#include "pb_helium.h"

/* One tap of four channels, the input pointer on to the next tap. */
#define PB_MVE_DW16_TAP()                                                                                            \
    do {                                                                                                             \
        acc = vaddq_s32(acc, vmulq_s32(vldrhq_s32(x), vldrhq_s32(w)));                                               \
        x += x_step;                                                                                                 \
        w += 4;                                                                                                      \
    } while (0)

static PB_MVE_INLINE void pb_mve_dw16_pixel(const pb_fast_dw16_params_t *p, const int16_t *in_b, int32_t iy0,
                                            int32_t ix0, int16_t *out, int mode, int clamp)
{
    const int32_t c_all = p->channels;
    const int32_t taps = p->filter_h * p->filter_w;
    const int32_t x_step = p->dilation_w * c_all;
    int32_t ky0, ky1, kx0, kx1, c, nky, nkx, row_skip, w_skip;
    const int16_t *x_pix, *w_pix;
    const int32_t *q = p->quant;
    pb_tap_range(iy0, p->dilation_h, p->filter_h, p->in_h, &ky0, &ky1);
    pb_tap_range(ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
    nky = ky1 - ky0;
    nkx = kx1 - kx0;
    /* from a filter row's last tap to the next row's first (int16 elements); the weights
     * past the taps in the padding */
    row_skip = p->dilation_h * p->in_w * c_all - nkx * x_step;
    w_skip = 4 * (p->filter_w - nkx);
    x_pix = in_b + ((iy0 + ky0 * p->dilation_h) * p->in_w + ix0 + kx0 * p->dilation_w) * c_all;
    w_pix = (const int16_t *)p->weights + 4 * (ky0 * p->filter_w + kx0);
    for (c = 0; c < c_all; c += 4, x_pix += 4, w_pix += 4 * taps, q += 4 * PB_W16_WORDS) {
        int32x4_t acc = vdupq_n_s32(0);
        const int16_t *x = x_pix, *w = w_pix;
        int32_t ky, kx;
        for (ky = nky; ky > 0; --ky, x += row_skip, w += w_skip) {
            if (nkx == 3) { /* a 3-wide window inside the input: no loop */
                PB_MVE_DW16_TAP();
                PB_MVE_DW16_TAP();
                PB_MVE_DW16_TAP();
            } else {
                for (kx = nkx; kx > 0; --kx) {
                    PB_MVE_DW16_TAP();
                }
            }
        }
        if (mode == PB_W16_MULR) { /* four lanes: (sum + bias) * m' rounded high (VRMULH), clamped, narrowed */
            int32x4_t v = vrmulhq_s32(vaddq_s32(acc, vldrwq_s32(q)), vldrwq_s32(q + 4));
            v = vminq_s32(vmaxq_s32(v, vdupq_n_s32(p->act_min)), vdupq_n_s32(p->act_max));
            vstrhq_s32(out + c, v);
            continue;
        }
        out[c] = (int16_t)pb_w16_clamp_form(pb_w16_out32(vgetq_lane_s32(acc, 0), q, mode), p->act_min, p->act_max,
                                            clamp);
        out[c + 1] = (int16_t)pb_w16_clamp_form(pb_w16_out32(vgetq_lane_s32(acc, 1), q + PB_W16_WORDS, mode),
                                                p->act_min, p->act_max, clamp);
        out[c + 2] = (int16_t)pb_w16_clamp_form(pb_w16_out32(vgetq_lane_s32(acc, 2), q + 2 * PB_W16_WORDS, mode),
                                                p->act_min, p->act_max, clamp);
        out[c + 3] = (int16_t)pb_w16_clamp_form(pb_w16_out32(vgetq_lane_s32(acc, 3), q + 3 * PB_W16_WORDS, mode),
                                                p->act_min, p->act_max, clamp);
    }
}

/* 8 channels a step, PB_W16_MULR: one input and one weight load of 8 int16 lanes per tap,
 * VMULLB / VMULLT into the even and the odd channels' int32 sums, which start from their
 * biases; four lanes' requantization each, narrowed back into channel order (VMOVNB/VMOVNT). */
static PB_MVE_INLINE void pb_mve_dw16_pixel8(const pb_fast_dw16_params_t *p, const int16_t *in_b, int32_t iy0,
                                             int32_t ix0, int16_t *out)
{
    const int32_t c_all = p->channels;
    const int32_t taps = p->filter_h * p->filter_w;
    const int32_t x_step = p->dilation_w * c_all;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    int32_t ky0, ky1, kx0, kx1, c, nky, nkx, row_skip, w_skip;
    const int16_t *x_pix, *w_pix;
    const int32_t *q = p->quant;
    pb_tap_range(iy0, p->dilation_h, p->filter_h, p->in_h, &ky0, &ky1);
    pb_tap_range(ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
    nky = ky1 - ky0;
    nkx = kx1 - kx0;
    row_skip = p->dilation_h * p->in_w * c_all - nkx * x_step;
    w_skip = 8 * (p->filter_w - nkx);
    x_pix = in_b + ((iy0 + ky0 * p->dilation_h) * p->in_w + ix0 + kx0 * p->dilation_w) * c_all;
    w_pix = (const int16_t *)p->weights + 8 * (ky0 * p->filter_w + kx0);
    for (c = 0; c < c_all; c += 8, x_pix += 8, w_pix += 8 * taps, q += 16) {
        int32x4_t even = vldrwq_s32(q), odd = vldrwq_s32(q + 4);
        const int16_t *x = x_pix, *w = w_pix;
        int32_t ky, kx;
        int16x8_t v = vdupq_n_s16(0);
        for (ky = nky; ky > 0; --ky, x += row_skip, w += w_skip) {
            for (kx = nkx; kx > 0; --kx, x += x_step, w += 8) {
                const int16x8_t xv = vldrhq_s16(x), wv = vldrhq_s16(w);
                even = vaddq_s32(even, vmullbq_int_s16(xv, wv));
                odd = vaddq_s32(odd, vmulltq_int_s16(xv, wv));
            }
        }
        even = vminq_s32(vmaxq_s32(vrmulhq_s32(even, vldrwq_s32(q + 8)), lo), hi);
        odd = vminq_s32(vmaxq_s32(vrmulhq_s32(odd, vldrwq_s32(q + 12)), lo), hi);
        v = vmovnbq_s32(v, even);
        v = vmovntq_s32(v, odd);
        vstrhq_s16(out + c, v);
    }
}

void pb_fast_mve_dw16_mulr8(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox, output += p->channels) {
                pb_mve_dw16_pixel8(p, in_b, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, output);
            }
        }
    }
}

static PB_MVE_INLINE void pb_mve_dw16_all(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output,
                                          int mode, int clamp)
{
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox, output += p->channels) {
                pb_mve_dw16_pixel(p, in_b, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, output,
                                  mode, clamp);
            }
        }
    }
}

#define PB_MVE_DW16_FORM(name, mode, clamp)                                                                          \
    void name(const pb_fast_dw16_params_t *p, const int16_t *input, int16_t *output)                                 \
    {                                                                                                                \
        pb_mve_dw16_all(p, input, output, mode, clamp);                                                              \
    }
PB_MVE_DW16_FORMS(PB_MVE_DW16_FORM)

