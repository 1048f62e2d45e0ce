/* DEPTHWISE_CONV_2D, int8 and 16x8. Output channel ic * depth_multiplier + m reads input
 * channel ic. Taps outside the input are skipped (padding with the zero point). */
#include "pb_depthwise_conv.h"

void pb_depthwise_conv_s8(const pb_depthwise_conv_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t out_c = p->in_c * p->depth_multiplier;
    const int32_t row_step = p->filter_w * out_c;
    int32_t b, oy, ox, ic, m, ky, kx;
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
                for (ic = 0; ic < p->in_c; ++ic) {
                    for (m = 0; m < p->depth_multiplier; ++m) {
                        const int32_t oc = ic * p->depth_multiplier + m;
                        int32_t acc = 0;
                        for (ky = ky0; ky < ky1; ++ky) {
                            const int32_t iy = iy0 + ky * p->dilation_h;
                            const int8_t *x_row = in_b + iy * p->in_w * p->in_c + ic;
                            const int8_t *w_row = p->filter + ky * row_step + oc;
                            for (kx = kx0; kx < kx1; ++kx) {
                                const int32_t ix = ix0 + kx * p->dilation_w;
                                acc += (int32_t)w_row[kx * out_c] * ((int32_t)x_row[ix * p->in_c] + p->input_offset);
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
}

void pb_depthwise_conv_s16(const pb_depthwise_conv_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t out_c = p->in_c * p->depth_multiplier;
    const int32_t row_step = p->filter_w * out_c;
    int32_t b, oy, ox, ic, m, ky, kx;
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
                for (ic = 0; ic < p->in_c; ++ic) {
                    for (m = 0; m < p->depth_multiplier; ++m) {
                        const int32_t oc = ic * p->depth_multiplier + m;
                        int64_t acc = 0;
                        int32_t r;
                        for (ky = ky0; ky < ky1; ++ky) {
                            const int32_t iy = iy0 + ky * p->dilation_h;
                            const int16_t *x_row = in_b + iy * p->in_w * p->in_c + ic;
                            const int8_t *w_row = p->filter + ky * row_step + oc;
                            for (kx = kx0; kx < kx1; ++kx) {
                                const int32_t ix = ix0 + kx * p->dilation_w;
                                acc += (int32_t)w_row[kx * out_c] * (int32_t)x_row[ix * p->in_c];
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
}
