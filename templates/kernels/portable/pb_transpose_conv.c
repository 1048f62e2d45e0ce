/* TRANSPOSE_CONV, int8 and 16x8. Input pixel (iy, ix) adds its products to output pixel
 * (iy * stride_h - pad_top + ky, ix * stride_w - pad_left + kx) for every filter tap (ky,
 * kx). Here each output gathers its products instead: the taps ky with
 * ky = oy + pad_top (mod stride_h), from input row iy = (oy + pad_top - ky) / stride_h
 * when that row exists, and likewise along x. Same integers summed, no output-sized
 * accumulator buffer. */
#include "pb_transpose_conv.h"

/* The first tap of an output coordinate t = o + pad (t >= 0) and its input coordinate:
 * tap k = t % stride reads input t / stride, and each further tap (k + stride) the input
 * before it. Taps whose input lies beyond `size` are skipped until it is inside. */
static void pb_tconv_first_tap(int32_t t, int32_t stride, int32_t size, int32_t *k, int32_t *i)
{
    *k = t % stride;
    *i = t / stride;
    if (*i >= size) {
        *k += (*i - size + 1) * stride;
        *i = size - 1;
    }
}

void pb_transpose_conv_s8(const pb_transpose_conv_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t tap_step = p->filter_w * p->in_c;
    const int32_t filter_step = p->filter_h * tap_step;
    int32_t b, oy, ox, oc, c;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            int32_t ky0, iy0;
            pb_tconv_first_tap(oy + p->pad_top, p->stride_h, p->in_h, &ky0, &iy0);
            for (ox = 0; ox < p->out_w; ++ox) {
                int32_t kx0, ix0;
                pb_tconv_first_tap(ox + p->pad_left, p->stride_w, p->in_w, &kx0, &ix0);
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int8_t *w_oc = p->filter + oc * filter_step;
                    int32_t acc = 0, ky, kx, iy, ix;
                    for (ky = ky0, iy = iy0; ky < p->filter_h && iy >= 0; ky += p->stride_h, --iy) {
                        for (kx = kx0, ix = ix0; kx < p->filter_w && ix >= 0; kx += p->stride_w, --ix) {
                            const int8_t *x = in_b + (iy * p->in_w + ix) * p->in_c;
                            const int8_t *w = w_oc + ky * tap_step + kx * p->in_c;
                            for (c = 0; c < p->in_c; ++c) {
                                acc += (int32_t)w[c] * ((int32_t)x[c] + p->input_offset);
                            }
                        }
                    }
                    if (p->bias) {
                        acc += p->bias[oc];
                    }
                    if (p->mults) {
                        acc = pb_mul_by_quantized_mult(acc, p->mults[oc], p->shifts[oc]);
                    } else {
                        acc = pb_mul_by_quantized_mult(acc, p->mult, p->shift);
                    }
                    acc += p->output_offset;
                    *output++ = (int8_t)PB_CLAMP(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void pb_transpose_conv_s16(const pb_transpose_conv_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t tap_step = p->filter_w * p->in_c;
    const int32_t filter_step = p->filter_h * tap_step;
    int32_t b, oy, ox, oc, c;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            int32_t ky0, iy0;
            pb_tconv_first_tap(oy + p->pad_top, p->stride_h, p->in_h, &ky0, &iy0);
            for (ox = 0; ox < p->out_w; ++ox) {
                int32_t kx0, ix0;
                pb_tconv_first_tap(ox + p->pad_left, p->stride_w, p->in_w, &kx0, &ix0);
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int8_t *w_oc = p->filter + oc * filter_step;
                    int64_t acc = 0;
                    int32_t r, ky, kx, iy, ix;
                    for (ky = ky0, iy = iy0; ky < p->filter_h && iy >= 0; ky += p->stride_h, --iy) {
                        for (kx = kx0, ix = ix0; kx < p->filter_w && ix >= 0; kx += p->stride_w, --ix) {
                            const int16_t *x = in_b + (iy * p->in_w + ix) * p->in_c;
                            const int8_t *w = w_oc + ky * tap_step + kx * p->in_c;
                            for (c = 0; c < p->in_c; ++c) {
                                acc += (int32_t)w[c] * (int32_t)x[c];
                            }
                        }
                    }
                    if (p->bias64) {
                        acc += p->bias64[oc];
                    }
                    if (p->mults) {
                        r = pb_mul_by_quantized_mult64(acc, p->mults[oc], p->shifts[oc]);
                    } else {
                        r = pb_mul_by_quantized_mult64(acc, p->mult, p->shift);
                    }
                    *output++ = (int16_t)PB_CLAMP(r, p->act_min, p->act_max);
                }
            }
        }
    }
}
