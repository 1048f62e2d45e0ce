/* Fast int8 CONV_2D / FULLY_CONNECTED (one blocked matrix multiply) and DEPTHWISE_CONV_2D,
 * Helium (MVE) tier for the Cortex-M55.
 *
 * Data layouts (protobrain/ops/fast_mve.py):
 *   mm weights: row-major [out_c][depth_pad] int8, depth_pad a multiple of 16.
 *   mm scratch: two int8 im2col rows of depth_pad.
 *   dw weights: [tap][channels] int8, as TFLite stores them.
 *
 * Inner loops never branch on data, so an inference takes the same time whatever its
 * input. */
#include "pb_fast_mve.h"
#include "pb_fast_common.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif
#include <arm_mve.h>

/* Accumulators of two rows (or one) by every output channel, two channels at a time; 16
 * MACs per VMLADAVA. depth_pad is a multiple of 16. data: the two int8 im2col rows,
 * depth_pad apart. acc: two words per channel (row 0, row 1). */
static void pb_fast_mm_accumulate(const pb_fast_mm_params_t *p, const void *data, int32_t *acc, int two_rows)
{
    const int32_t n = p->depth_pad;
    const int8_t *x0 = (const int8_t *)data, *x1 = x0 + n;
    const int8_t *w = (const int8_t *)p->weights;
    const int32_t *q = p->quant;
    int32_t oc, k;
    for (oc = 0; oc < p->out_c; oc += 2, w += 2 * n, q += 2 * PB_QUANT_WORDS, acc += 4) {
        int32_t a00 = q[0], a10 = q[0];
        int32_t a01 = q[PB_QUANT_WORDS], a11 = q[PB_QUANT_WORDS];
        if (two_rows) {
            for (k = 0; k < n; k += 16) {
                const int8x16_t v0 = vldrbq_s8(x0 + k), v1 = vldrbq_s8(x1 + k);
                const int8x16_t wa = vldrbq_s8(w + k), wb = vldrbq_s8(w + n + k);
                a00 = vmladavaq_s8(a00, v0, wa);
                a10 = vmladavaq_s8(a10, v1, wa);
                a01 = vmladavaq_s8(a01, v0, wb);
                a11 = vmladavaq_s8(a11, v1, wb);
            }
        } else {
            for (k = 0; k < n; k += 16) {
                const int8x16_t v0 = vldrbq_s8(x0 + k);
                a00 = vmladavaq_s8(a00, v0, vldrbq_s8(w + k));
                a01 = vmladavaq_s8(a01, v0, vldrbq_s8(w + n + k));
            }
        }
        acc[0] = a00;
        acc[1] = a10;
        acc[2] = a01;
        acc[3] = a11;
    }
}

/* Scratch bytes ahead of the accumulators: the two int8 rows. */
#define PB_FAST_ROWS_BYTES(depth_pad) (2 * (depth_pad))

/* im2col rows r0 and r1 into the scratch, as pb_fast_mm_rows reads them. */
static void pb_fast_mm_prepare(const pb_fast_mm_params_t *p, const int8_t *input, int32_t r0, int32_t r1, void *scratch)
{
    pb_fast_im2col(p, input, r0, (int8_t *)scratch);
    if (r1 != r0) {
        pb_fast_im2col(p, input, r1, (int8_t *)scratch + p->depth_pad);
    }
}

void pb_fast_mve_mm_s8(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    int32_t *acc = (int32_t *)((uint8_t *)scratch + PB_FAST_ROWS_BYTES(p->depth_pad));
    int32_t r;
    for (r = 0; r < p->rows; r += 2) {
        const int32_t r1 = r + 1 < p->rows ? r + 1 : r;
        pb_fast_mm_prepare(p, input, r, r1, scratch);
        pb_fast_mm_accumulate(p, scratch, acc, r1 != r);
        pb_fast_requant_all(acc, 2, p->quant, p->out_c, output + r * p->out_c, p->requant, p->output_offset,
                            p->act_min, p->act_max);
        if (r1 != r) {
            pb_fast_requant_all(acc + 1, 2, p->quant, p->out_c, output + r1 * p->out_c, p->requant,
                                p->output_offset, p->act_min, p->act_max);
        }
    }
}

/* ---- DEPTHWISE_CONV_2D ----------------------------------------------------------------- */


/* Eight channels per step (channels a multiple of 8): int8 widened to int16 lanes, bottom
 * and top lanes multiplied into two int32x4 accumulators (even and odd channels). Taps
 * cut by the border are skipped, so such pixels add the input offset to each tap and
 * start from the plain bias instead of the folded one. */
static PB_ALWAYS_INLINE void pb_fast_dw_pixel(const pb_fast_dw_params_t *p, const int8_t *in_b, int32_t iy0,
                                              int32_t ix0, int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1,
                                              int32_t *acc, int interior)
{
    const int32_t C = p->channels;
    const int8_t *wt = (const int8_t *)p->weights;
    int32_t c, ky, kx, i;
    for (c = 0; c < C; c += 8) {
        int32x4_t even = vdupq_n_s32(0), odd = vdupq_n_s32(0);
        int32_t lanes[8]; /* channels c, c+2, c+4, c+6, then c+1, c+3, c+5, c+7 */
        for (ky = ky0; ky < ky1; ++ky) {
            const int32_t iy = iy0 + ky * p->dilation_h;
            for (kx = kx0; kx < kx1; ++kx) {
                const int32_t ix = ix0 + kx * p->dilation_w;
                int16x8_t x = vldrbq_s16(in_b + (iy * p->in_w + ix) * C + c);
                const int16x8_t w = vldrbq_s16(wt + (ky * p->filter_w + kx) * C + c);
                if (!interior) {
                    x = vaddq_n_s16(x, (int16_t)p->input_offset);
                }
                even = vaddq_s32(even, vmullbq_int_s16(x, w));
                odd = vaddq_s32(odd, vmulltq_int_s16(x, w));
            }
        }
        vstrwq_s32(lanes, even);
        vstrwq_s32(lanes + 4, odd);
        for (i = 0; i < 8; ++i) {
            const int32_t bias = interior ? p->quant[PB_QUANT_WORDS * (c + i)] : p->quant[PB_QUANT_WORDS * C + c + i];
            acc[c + i] = (int32_t)((uint32_t)lanes[(i >> 1) + 4 * (i & 1)] + (uint32_t)bias);
        }
    }
}

void pb_fast_mve_dw_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    int32_t *acc = (int32_t *)scratch;
    int32_t b, oy, ox;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            int32_t ky0, ky1;
            pb_tap_range(iy0, p->dilation_h, p->filter_h, p->in_h, &ky0, &ky1);
            for (ox = 0; ox < p->out_w; ++ox, output += p->channels) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int32_t kx0, kx1;
                pb_tap_range(ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
                if (ky0 == 0 && ky1 == p->filter_h && kx0 == 0 && kx1 == p->filter_w) {
                    pb_fast_dw_pixel(p, in_b, iy0, ix0, 0, p->filter_h, 0, p->filter_w, acc, 1);
                } else {
                    pb_fast_dw_pixel(p, in_b, iy0, ix0, ky0, ky1, kx0, kx1, acc, 0);
                }
                pb_fast_requant_all(acc, 1, p->quant, p->channels, output, p->requant, p->output_offset,
                                    p->act_min, p->act_max);
            }
        }
    }
}
