/* Fast int8 CONV_2D / FULLY_CONNECTED (one blocked matrix multiply) and DEPTHWISE_CONV_2D.
 *
 * Data layouts, chosen by the generator for the tier in pb_tier.h:
 *
 * DSP tier (Cortex-M4/M7/M33; plain C with the same arithmetic on other targets)
 *   mm weights: output channels in pairs, depth in blocks of 4: for pair b and block j,
 *     two words = 4 int8 of channel 2b, then 4 int8 of channel 2b+1.
 *   mm scratch: two im2col rows widened to int16 and interleaved per block of 4 values
 *     (x0,x2 | x1,x3 of row 0, then of row 1: SXTB16 order), then one int8 im2col row.
 *   dw weights: per tap and group of 4 channels, two words of int16 pairs (w0,w2), (w1,w3).
 *
 * MVE tier (Cortex-M55, Helium)
 *   mm weights: row-major [out_c][depth_pad] int8, depth_pad a multiple of 16.
 *   mm scratch: two int8 im2col rows of depth_pad.
 *   dw weights: [tap][channels] int8, as TFLite stores them.
 *
 * Inner loops never branch on data, so an inference takes the same time whatever its
 * input. */
#include "pb_fast.h"
#include "pb_simd.h"

#if defined(PB_TIER_MVE)
#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif
#include <arm_mve.h>
#endif

/* ---- requantization and the output clamp ----------------------------------------- */

static PB_ALWAYS_INLINE int32_t pb_fast_requant(int32_t acc, const int32_t *q, int32_t mode, int32_t output_offset)
{
    if (mode == PB_REQUANT_FAST) {
        /* (acc * m + 2^30) >> 31 is TFLite's rounding doubling high multiply for every
         * acc the bound allows (no saturation case); then a rounding shift, half away from
         * zero, with the output offset already inside q[3]. */
        const int32_t v = pb_smmulr((int32_t)((uint32_t)acc << 1), q[1]);
        return (v + (v >> 31) + q[3]) >> q[2];
    }
    return pb_mul_by_quantized_mult(acc, q[1], q[2]) + output_offset;
}

/* full_range is a constant at every call site: the compiler drops the clamp when the
 * activation range is all of int8 (no activation, or ReLU with zero point -128). */
static PB_ALWAYS_INLINE int8_t pb_fast_clamp(int32_t v, int32_t act_min, int32_t act_max, int full_range)
{
    v = pb_ssat8(v);
    if (!full_range) {
        v = PB_MAX(v, act_min);
        v = PB_MIN(v, act_max);
    }
    return (int8_t)v;
}

/* Requantize, clamp and store one output. */
static PB_ALWAYS_INLINE void pb_fast_store(int8_t *out, int32_t acc, const int32_t *q, const pb_fast_mm_params_t *p,
                                           int mode, int full_range)
{
    *out = pb_fast_clamp(pb_fast_requant(acc, q, mode, p->output_offset), p->act_min, p->act_max, full_range);
}

/* ---- im2col -------------------------------------------------------------------------- */

/* Row `row` of the im2col matrix: the taps of one output pixel in filter order, padding
 * taps set to the zero point, then zeros up to depth_pad (their weights are zero). */
static void pb_fast_im2col(const pb_fast_mm_params_t *p, const int8_t *input, int32_t row, int8_t *dst)
{
    const int32_t per_batch = p->out_h * p->out_w;
    const int32_t b = row / per_batch, pixel = row - b * per_batch;
    const int32_t oy = pixel / p->out_w, ox = pixel - oy * p->out_w;
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    int32_t ky, kx;
    for (ky = 0; ky < p->filter_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        for (kx = 0; kx < p->filter_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                memcpy(dst, in_b + (iy * p->in_w + ix) * p->in_c, (size_t)p->in_c);
            } else {
                memset(dst, p->pad_value, (size_t)p->in_c);
            }
            dst += p->in_c;
        }
    }
    memset(dst, 0, (size_t)(p->depth_pad - p->depth));
}

#if defined(PB_TIER_MVE)

/* ---- MVE tier ------------------------------------------------------------------------ */

/* Two rows (or one: out1 NULL) by two output channels; 16 MACs per VMLADAVA. depth_pad is
 * a multiple of 16. data: the two int8 im2col rows, depth_pad apart. */
static PB_ALWAYS_INLINE void pb_fast_mm_rows(const pb_fast_mm_params_t *p, const void *data,
                                             int8_t *out0, int8_t *out1, int mode, int full_range)
{
    const int32_t n = p->depth_pad;
    const int8_t *x0 = (const int8_t *)data, *x1 = x0 + n;
    const int8_t *w = (const int8_t *)p->weights;
    const int32_t *q = p->quant;
    int32_t oc, k;
    for (oc = 0; oc < p->out_c; oc += 2, w += 2 * n, q += 2 * PB_QUANT_WORDS) {
        int32_t a00 = q[0], a10 = q[0];
        int32_t a01 = q[PB_QUANT_WORDS], a11 = q[PB_QUANT_WORDS];
        if (out1 != NULL) {
            for (k = 0; k < n; k += 16) {
                const int8x16_t v0 = vldrbq_s8(x0 + k), v1 = vldrbq_s8(x1 + k);
                const int8x16_t wa = vldrbq_s8(w + k), wb = vldrbq_s8(w + n + k);
                a00 = vmladavaq_s8(a00, v0, wa);
                a10 = vmladavaq_s8(a10, v1, wa);
                a01 = vmladavaq_s8(a01, v0, wb);
                a11 = vmladavaq_s8(a11, v1, wb);
            }
            pb_fast_store(out1 + oc, a10, q, p, mode, full_range);
        } else {
            for (k = 0; k < n; k += 16) {
                const int8x16_t v0 = vldrbq_s8(x0 + k);
                a00 = vmladavaq_s8(a00, v0, vldrbq_s8(w + k));
                a01 = vmladavaq_s8(a01, v0, vldrbq_s8(w + n + k));
            }
        }
        pb_fast_store(out0 + oc, a00, q, p, mode, full_range);
        if (oc + 1 < p->out_c) {
            pb_fast_store(out0 + oc + 1, a01, q + PB_QUANT_WORDS, p, mode, full_range);
            if (out1 != NULL) {
                pb_fast_store(out1 + oc + 1, a11, q + PB_QUANT_WORDS, p, mode, full_range);
            }
        }
    }
}

/* im2col rows r0 and r1 into the scratch, as pb_fast_mm_rows reads them. */
static void pb_fast_mm_prepare(const pb_fast_mm_params_t *p, const int8_t *input, int32_t r0, int32_t r1, void *scratch)
{
    pb_fast_im2col(p, input, r0, (int8_t *)scratch);
    if (r1 != r0) {
        pb_fast_im2col(p, input, r1, (int8_t *)scratch + p->depth_pad);
    }
}

#else

/* ---- DSP tier ------------------------------------------------------------------------ */

/* Widen one int8 im2col row into slot r (0 or 1) of the interleaved int16 scratch. */
static void pb_fast_widen(const int8_t *row, int32_t blocks, uint32_t *cols, int32_t r)
{
    uint32_t *dst = cols + 2 * r;
    int32_t j;
    for (j = 0; j < blocks; ++j, dst += 4) {
        const uint32_t v = pb_load32(row + 4 * j);
        dst[0] = pb_sxtb16(v);
        dst[1] = pb_sxtb16_hi(v);
    }
}

/* The inner loops over the depth, for two output channels and one or two rows. x: the
 * interleaved widened rows (four words per block of 4 depth values: row 0's pairs, then
 * row 1's), up to x_end, two blocks per turn. Weights per block: int8 (two words, one per
 * channel, widened here by SXTB16) or, with wide weights, int16 pairs already in SXTB16
 * order (four words). On the DSP extension they are written out so every operand stays in
 * a register; elsewhere the same arithmetic in C. Per 16 MACs: int8 weights 15
 * instructions, wide weights 12. */
#if defined(PB_SIMD_DSP)

#define PB_MM_OUT [c00] "+r"(c00), [c10] "+r"(c10), [c01] "+r"(c01), [c11] "+r"(c11), [x] "+r"(x), [w] "+r"(w), \
                  [wa] "=&r"(wa), [wb] "=&r"(wb), [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t), [u] "=&r"(u)

#define PB_MM_8x2                                          \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[xa], %[xb], [%[x]], #8\n\t"                  \
    "sxtb16 %[t], %[wa], ror #8\n\t"                       \
    "sxtb16 %[wa], %[wa]\n\t"                              \
    "sxtb16 %[u], %[wb], ror #8\n\t"                       \
    "sxtb16 %[wb], %[wb]\n\t"                              \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[t], %[c00]\n\t"               \
    "smlad  %[c01], %[xa], %[wb], %[c01]\n\t"              \
    "smlad  %[c01], %[xb], %[u], %[c01]\n\t"               \
    "ldrd   %[xa], %[xb], [%[x]], #8\n\t"                  \
    "smlad  %[c10], %[xa], %[wa], %[c10]\n\t"              \
    "smlad  %[c10], %[xb], %[t], %[c10]\n\t"               \
    "smlad  %[c11], %[xa], %[wb], %[c11]\n\t"              \
    "smlad  %[c11], %[xb], %[u], %[c11]\n\t"

#define PB_MM_16x2                                         \
    "ldrd   %[xa], %[xb], [%[x]], #8\n\t"                  \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[t], %[u], [%[x]], #8\n\t"                    \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[wb], %[c00]\n\t"              \
    "smlad  %[c10], %[t], %[wa], %[c10]\n\t"               \
    "smlad  %[c10], %[u], %[wb], %[c10]\n\t"               \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "smlad  %[c01], %[xa], %[wa], %[c01]\n\t"              \
    "smlad  %[c01], %[xb], %[wb], %[c01]\n\t"              \
    "smlad  %[c11], %[t], %[wa], %[c11]\n\t"               \
    "smlad  %[c11], %[u], %[wb], %[c11]\n\t"

#define PB_MM_8x1                                          \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[xa], %[xb], [%[x]], #16\n\t"                 \
    "sxtb16 %[t], %[wa], ror #8\n\t"                       \
    "sxtb16 %[wa], %[wa]\n\t"                              \
    "sxtb16 %[u], %[wb], ror #8\n\t"                       \
    "sxtb16 %[wb], %[wb]\n\t"                              \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[t], %[c00]\n\t"               \
    "smlad  %[c01], %[xa], %[wb], %[c01]\n\t"              \
    "smlad  %[c01], %[xb], %[u], %[c01]\n\t"

#define PB_MM_16x1                                         \
    "ldrd   %[xa], %[xb], [%[x]], #16\n\t"                 \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                  \
    "ldrd   %[t], %[u], [%[w]], #8\n\t"                    \
    "smlad  %[c00], %[xa], %[wa], %[c00]\n\t"              \
    "smlad  %[c00], %[xb], %[wb], %[c00]\n\t"              \
    "smlad  %[c01], %[xa], %[t], %[c01]\n\t"               \
    "smlad  %[c01], %[xb], %[u], %[c01]\n\t"

#define PB_MM_LOOP(body)                                                                                \
    __asm__("1:\n\t" body body "cmp    %[x], %[x_end]\n\tbne    1b\n\t"                                 \
            : PB_MM_OUT : [x_end] "r"(x_end) : "cc", "memory")

static PB_ALWAYS_INLINE void pb_fast_mm_block(const uint32_t *x, const uint32_t *x_end, const uint32_t *w,
                                              int32_t *acc, int wide, int two_rows)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    uint32_t wa, wb, xa, xb, t, u;
    if (wide && two_rows) {
        PB_MM_LOOP(PB_MM_16x2);
    } else if (two_rows) {
        PB_MM_LOOP(PB_MM_8x2);
    } else if (wide) {
        PB_MM_LOOP(PB_MM_16x1);
    } else {
        PB_MM_LOOP(PB_MM_8x1);
    }
    acc[0] = c00;
    acc[1] = c10;
    acc[2] = c01;
    acc[3] = c11;
}

#else

static PB_ALWAYS_INLINE void pb_fast_mm_block(const uint32_t *x, const uint32_t *x_end, const uint32_t *w,
                                              int32_t *acc, int wide, int two_rows)
{
    int32_t c00 = acc[0], c10 = acc[1], c01 = acc[2], c11 = acc[3];
    for (; x != x_end; x += 4) {
        uint32_t a0, a1, b0, b1; /* channel 0's and channel 1's (w0,w2), (w1,w3) */
        if (wide) {
            a0 = w[0], a1 = w[1], b0 = w[2], b1 = w[3];
            w += 4;
        } else {
            a0 = pb_sxtb16(w[0]), a1 = pb_sxtb16_hi(w[0]), b0 = pb_sxtb16(w[1]), b1 = pb_sxtb16_hi(w[1]);
            w += 2;
        }
        c00 = pb_smlad(x[1], a1, pb_smlad(x[0], a0, c00));
        c01 = pb_smlad(x[1], b1, pb_smlad(x[0], b0, c01));
        if (two_rows) {
            c10 = pb_smlad(x[3], a1, pb_smlad(x[2], a0, c10));
            c11 = pb_smlad(x[3], b1, pb_smlad(x[2], b0, c11));
        }
    }
    acc[0] = c00;
    acc[1] = c10;
    acc[2] = c01;
    acc[3] = c11;
}

#endif /* PB_SIMD_DSP */

/* One or two rows (out1 NULL: one) by every output channel, two channels at a time, over
 * the whole depth (padded to a multiple of 8). */
static PB_ALWAYS_INLINE void pb_fast_mm_rows(const pb_fast_mm_params_t *p, const void *data,
                                             int8_t *out0, int8_t *out1, int mode, int full_range)
{
    const uint32_t *cols = (const uint32_t *)data;
    const uint32_t *cols_end = cols + p->depth_pad;
    const uint32_t *w = (const uint32_t *)p->weights;
    const int32_t pair_words = p->wide_weights ? p->depth_pad : p->depth_pad >> 1;
    const int32_t *q = p->quant;
    int32_t oc;
    for (oc = 0; oc < p->out_c; oc += 2, q += 2 * PB_QUANT_WORDS, w += pair_words) {
        int32_t acc[4];
        acc[0] = acc[1] = q[0];
        acc[2] = acc[3] = q[PB_QUANT_WORDS];
        if (out1 != NULL) {
            if (p->wide_weights) {
                pb_fast_mm_block(cols, cols_end, w, acc, 1, 1);
            } else {
                pb_fast_mm_block(cols, cols_end, w, acc, 0, 1);
            }
            pb_fast_store(out1 + oc, acc[1], q, p, mode, full_range);
        } else if (p->wide_weights) {
            pb_fast_mm_block(cols, cols_end, w, acc, 1, 0);
        } else {
            pb_fast_mm_block(cols, cols_end, w, acc, 0, 0);
        }
        pb_fast_store(out0 + oc, acc[0], q, p, mode, full_range);
        if (oc + 1 < p->out_c) {
            pb_fast_store(out0 + oc + 1, acc[2], q + PB_QUANT_WORDS, p, mode, full_range);
            if (out1 != NULL) {
                pb_fast_store(out1 + oc + 1, acc[3], q + PB_QUANT_WORDS, p, mode, full_range);
            }
        }
    }
}

/* im2col rows r0 and r1, widened and interleaved into the scratch (depth_pad words),
 * through an int8 row after them (depth_pad bytes). */
static void pb_fast_mm_prepare(const pb_fast_mm_params_t *p, const int8_t *input, int32_t r0, int32_t r1, void *scratch)
{
    uint32_t *cols = (uint32_t *)scratch;
    int8_t *row = (int8_t *)(cols + p->depth_pad);
    const int32_t blocks = p->depth_pad >> 2;
    pb_fast_im2col(p, input, r0, row);
    pb_fast_widen(row, blocks, cols, 0);
    if (r1 != r0) {
        pb_fast_im2col(p, input, r1, row);
        pb_fast_widen(row, blocks, cols, 1);
    }
}

#endif /* PB_TIER_MVE */

/* One pair of im2col rows through the multiply, with the layer's constants folded in. */
static void pb_fast_mm_fast_full(const pb_fast_mm_params_t *p, const void *data, int8_t *out0, int8_t *out1)
{
    pb_fast_mm_rows(p, data, out0, out1, PB_REQUANT_FAST, 1);
}

static void pb_fast_mm_fast_clamped(const pb_fast_mm_params_t *p, const void *data, int8_t *out0, int8_t *out1)
{
    pb_fast_mm_rows(p, data, out0, out1, PB_REQUANT_FAST, 0);
}

static void pb_fast_mm_exact(const pb_fast_mm_params_t *p, const void *data, int8_t *out0, int8_t *out1)
{
    pb_fast_mm_rows(p, data, out0, out1, PB_REQUANT_EXACT, 0);
}

void pb_fast_mm_s8(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch)
{
    const int variant = p->requant != PB_REQUANT_FAST ? 0 : (p->act_min == -128 && p->act_max == 127) ? 1 : 2;
    int32_t r;
    for (r = 0; r < p->rows; r += 2) {
        const int32_t r1 = r + 1 < p->rows ? r + 1 : r;
        int8_t *out0 = output + r * p->out_c, *out1 = r1 != r ? output + r1 * p->out_c : NULL;
        pb_fast_mm_prepare(p, input, r, r1, scratch);
        if (variant == 1) {
            pb_fast_mm_fast_full(p, scratch, out0, out1);
        } else if (variant == 2) {
            pb_fast_mm_fast_clamped(p, scratch, out0, out1);
        } else {
            pb_fast_mm_exact(p, scratch, out0, out1);
        }
    }
}

/* ---- DEPTHWISE_CONV_2D ----------------------------------------------------------------- */

static PB_ALWAYS_INLINE void pb_fast_dw_store(const pb_fast_dw_params_t *p, int8_t *out, int32_t acc, int32_t c,
                                              int mode, int full_range)
{
    *out = pb_fast_clamp(pb_fast_requant(acc, p->quant + PB_QUANT_WORDS * c, mode, p->output_offset),
                         p->act_min, p->act_max, full_range);
}

/* The bias one channel starts from: with the input offset folded over every tap for an
 * interior pixel, or plain for a pixel whose window the border cuts (its taps add the
 * offset themselves). */
static PB_ALWAYS_INLINE int32_t pb_fast_dw_bias(const pb_fast_dw_params_t *p, int32_t c, int interior)
{
    return interior ? p->quant[PB_QUANT_WORDS * c] : p->quant[PB_QUANT_WORDS * p->channels + c];
}

#if defined(PB_TIER_MVE)

/* Eight channels per step (channels a multiple of 8): int8 widened to int16 lanes, bottom
 * and top lanes multiplied into two int32x4 accumulators (even and odd channels). */
static PB_ALWAYS_INLINE void pb_fast_dw_pixel(const pb_fast_dw_params_t *p, const int8_t *in_b, int32_t iy0,
                                              int32_t ix0, int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1,
                                              int8_t *out, int interior, int mode, int full_range)
{
    const int32_t C = p->channels;
    const int8_t *wt = (const int8_t *)p->weights;
    int32_t c, ky, kx, i;
    for (c = 0; c < C; c += 8) {
        int32x4_t even = vdupq_n_s32(0), odd = vdupq_n_s32(0);
        int32_t acc[8]; /* channels c, c+2, c+4, c+6, then c+1, c+3, c+5, c+7 */
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
        vstrwq_s32(acc, even);
        vstrwq_s32(acc + 4, odd);
        for (i = 0; i < 8; ++i) {
            const int32_t lane = (i >> 1) + 4 * (i & 1);
            const int32_t a = (int32_t)((uint32_t)acc[lane] + (uint32_t)pb_fast_dw_bias(p, c + i, interior));
            pb_fast_dw_store(p, out + c + i, a, c + i, mode, full_range);
        }
    }
}

#else

/* Four channels per step: SXTB16 splits them into (c0,c2) and (c1,c3) int16 pairs, and
 * SMLABB/SMLATT multiply each lane by its weight; the weights of a group of four channels
 * are contiguous over the taps. */
static PB_ALWAYS_INLINE void pb_fast_dw_pixel(const pb_fast_dw_params_t *p, const int8_t *in_b, int32_t iy0,
                                              int32_t ix0, int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1,
                                              int8_t *out, int interior, int mode, int full_range)
{
    const int32_t C = p->channels, taps = p->filter_h * p->filter_w;
    const int32_t row_step = p->dilation_h * p->in_w * C, col_step = p->dilation_w * C;
    const uint32_t offsets = ((uint32_t)p->input_offset & 0xFFFFu) * 0x10001u;
    const int8_t *x0 = in_b + ((iy0 + ky0 * p->dilation_h) * p->in_w + ix0 + kx0 * p->dilation_w) * C;
    const uint32_t *w0 = (const uint32_t *)p->weights + 2 * (ky0 * p->filter_w + kx0);
    int32_t c, ky, kx;
    for (c = 0; c < C; c += 4, x0 += 4, w0 += 2 * taps) {
        const int8_t *xr = x0;
        const uint32_t *wr = w0;
        int32_t a0 = pb_fast_dw_bias(p, c, interior), a1 = pb_fast_dw_bias(p, c + 1, interior);
        int32_t a2 = pb_fast_dw_bias(p, c + 2, interior), a3 = pb_fast_dw_bias(p, c + 3, interior);
        for (ky = ky0; ky < ky1; ++ky, xr += row_step, wr += 2 * p->filter_w) {
            for (kx = 0; kx < kx1 - kx0; ++kx) {
                const uint32_t v = pb_load32(xr + kx * col_step);
                const uint32_t wa = wr[2 * kx], wb = wr[2 * kx + 1];
                uint32_t lo = pb_sxtb16(v), hi = pb_sxtb16_hi(v);
                if (!interior) {
                    lo = pb_sadd16(lo, offsets);
                    hi = pb_sadd16(hi, offsets);
                }
                a0 = pb_smlabb(lo, wa, a0);
                a2 = pb_smlatt(lo, wa, a2);
                a1 = pb_smlabb(hi, wb, a1);
                a3 = pb_smlatt(hi, wb, a3);
            }
        }
        pb_fast_dw_store(p, out + c, a0, c, mode, full_range);
        pb_fast_dw_store(p, out + c + 1, a1, c + 1, mode, full_range);
        pb_fast_dw_store(p, out + c + 2, a2, c + 2, mode, full_range);
        pb_fast_dw_store(p, out + c + 3, a3, c + 3, mode, full_range);
    }
}

#endif /* PB_TIER_MVE */

/* The common case, compiled with its constants: a 3x3 window wholly inside the input,
 * fast requantization, no clamp beyond int8. */
static void pb_fast_dw_3x3(const pb_fast_dw_params_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0, int8_t *out)
{
    pb_fast_dw_pixel(p, in_b, iy0, ix0, 0, 3, 0, 3, out, 1, PB_REQUANT_FAST, 1);
}

static void pb_fast_dw_interior(const pb_fast_dw_params_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0, int8_t *out)
{
    pb_fast_dw_pixel(p, in_b, iy0, ix0, 0, p->filter_h, 0, p->filter_w, out, 1, p->requant,
                     p->act_min == -128 && p->act_max == 127);
}

static void pb_fast_dw_border(const pb_fast_dw_params_t *p, const int8_t *in_b, int32_t iy0, int32_t ix0,
                              int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, int8_t *out)
{
    pb_fast_dw_pixel(p, in_b, iy0, ix0, ky0, ky1, kx0, kx1, out, 0, p->requant,
                     p->act_min == -128 && p->act_max == 127);
}

void pb_fast_dw_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output)
{
    const int hot = p->filter_h == 3 && p->filter_w == 3 && p->requant == PB_REQUANT_FAST
                    && p->act_min == -128 && p->act_max == 127;
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
                if (ky0 != 0 || ky1 != p->filter_h || kx0 != 0 || kx1 != p->filter_w) {
                    pb_fast_dw_border(p, in_b, iy0, ix0, ky0, ky1, kx0, kx1, output);
                } else if (hot) {
                    pb_fast_dw_3x3(p, in_b, iy0, ix0, output);
                } else {
                    pb_fast_dw_interior(p, in_b, iy0, ix0, output);
                }
            }
        }
    }
}
