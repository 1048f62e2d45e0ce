/* CONV_2D, int8 and 16x8. Taps that fall outside the input are skipped, which is
 * padding with the input zero point (int8) or with zero (int16). */
#include "pb_conv.h"

void pb_conv_s8(const pb_conv_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t tap_step = p->filter_w * p->filter_c;
    const int32_t filter_step = p->filter_h * tap_step;
    int32_t b, oy, ox, oc, ky, kx, c;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            pb_tap_range(iy0, p->dilation_h, p->filter_h, p->in_h, &ky0, &ky1);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                pb_tap_range(ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int32_t group_c0 = (oc / p->group_out_c) * p->filter_c;
                    const int8_t *w_oc = p->filter + oc * filter_step;
                    int32_t acc = 0;
                    for (ky = ky0; ky < ky1; ++ky) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (kx = kx0; kx < kx1; ++kx) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int8_t *x = in_b + (iy * p->in_w + ix) * p->in_c + group_c0;
                            const int8_t *w = w_oc + ky * tap_step + kx * p->filter_c;
                            for (c = 0; c < p->filter_c; ++c) {
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

void pb_conv_s16(const pb_conv_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t tap_step = p->filter_w * p->filter_c;
    const int32_t filter_step = p->filter_h * tap_step;
    int32_t b, oy, ox, oc, ky, kx, c;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            pb_tap_range(iy0, p->dilation_h, p->filter_h, p->in_h, &ky0, &ky1);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                pb_tap_range(ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int32_t group_c0 = (oc / p->group_out_c) * p->filter_c;
                    const int8_t *w_oc = p->filter + oc * filter_step;
                    int64_t acc = 0;
                    int32_t r;
                    for (ky = ky0; ky < ky1; ++ky) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (kx = kx0; kx < kx1; ++kx) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int16_t *x = in_b + (iy * p->in_w + ix) * p->in_c + group_c0;
                            const int8_t *w = w_oc + ky * tap_step + kx * p->filter_c;
                            for (c = 0; c < p->filter_c; ++c) {
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

void pb_conv_s16_b32(const pb_conv_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t tap_step = p->filter_w * p->filter_c;
    const int32_t filter_step = p->filter_h * tap_step;
    int32_t b, oy, ox, oc, ky, kx, c;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            pb_tap_range(iy0, p->dilation_h, p->filter_h, p->in_h, &ky0, &ky1);
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                pb_tap_range(ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int32_t group_c0 = (oc / p->group_out_c) * p->filter_c;
                    const int8_t *w_oc = p->filter + oc * filter_step;
                    /* The reference accumulates in 32 bits; unsigned arithmetic gives its
                     * two's-complement wrap-around without undefined behaviour. */
                    uint32_t acc = 0;
                    for (ky = ky0; ky < ky1; ++ky) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (kx = kx0; kx < kx1; ++kx) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int16_t *x = in_b + (iy * p->in_w + ix) * p->in_c + group_c0;
                            const int8_t *w = w_oc + ky * tap_step + kx * p->filter_c;
                            for (c = 0; c < p->filter_c; ++c) {
                                acc += (uint32_t)((int32_t)w[c] * (int32_t)x[c]);
                            }
                        }
                    }
                    if (p->bias) {
                        acc += (uint32_t)p->bias[oc];
                    }
                    {
                        int32_t r = (int32_t)acc;
                        if (p->mults) {
                            r = pb_mul_by_quantized_mult(r, p->mults[oc], p->shifts[oc]);
                        } else {
                            r = pb_mul_by_quantized_mult(r, p->mult, p->shift);
                        }
                        *output++ = (int16_t)PB_CLAMP(r, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}
