/* Shared by the fast kernels of every tier (pb_fast.c, pb_fast_mve.c): the scalar
 * requantization and clamp, and the im2col row. Internal to the kernels. */
#ifndef PB_FAST_COMMON_H
#define PB_FAST_COMMON_H

#include "pb_fast.h"
#include "pb_simd.h"

/* ---- requantization and the output clamp ----------------------------------------- */

static PB_ALWAYS_INLINE int32_t pb_fast_requant(int32_t acc, const int32_t *q, int32_t mode, int32_t output_offset)
{
    if (mode == PB_REQUANT_FAST) {
        /* (acc * m + 2^30) >> 31 is TFLite's rounding doubling high multiply for every
         * acc the bound allows (no saturation case); then a rounding shift, half away from
         * zero, with the output offset already inside q[3]. */
        const int32_t v = pb_smmulr((int32_t)((uint32_t)acc << 1), q[1]);
        return (v - (int32_t)((uint32_t)v >> 31) + q[3]) >> q[2];
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

/* Requantize n accumulators of consecutive channels (q: their quant words) into int8
 * outputs. Kept apart from the multiply loops, so each stays within the registers. */
static PB_ALWAYS_INLINE void pb_fast_requant_run(const int32_t *acc, int32_t stride, const int32_t *q, int32_t n,
                                                 int8_t *out, int32_t output_offset, int32_t act_min,
                                                 int32_t act_max, int mode, int full_range)
{
    int32_t c;
    for (c = 0; c < n; ++c, acc += stride, q += PB_QUANT_WORDS) {
        out[c] = pb_fast_clamp(pb_fast_requant(*acc, q, mode, output_offset), act_min, act_max, full_range);
    }
}

static inline void pb_fast_requant_fast_full(const int32_t *acc, int32_t stride, const int32_t *q, int32_t n, int8_t *out,
                                      int32_t output_offset, int32_t act_min, int32_t act_max)
{
    pb_fast_requant_run(acc, stride, q, n, out, output_offset, act_min, act_max, PB_REQUANT_FAST, 1);
}

static inline void pb_fast_requant_fast_clamped(const int32_t *acc, int32_t stride, const int32_t *q, int32_t n, int8_t *out,
                                         int32_t output_offset, int32_t act_min, int32_t act_max)
{
    pb_fast_requant_run(acc, stride, q, n, out, output_offset, act_min, act_max, PB_REQUANT_FAST, 0);
}

static inline void pb_fast_requant_exact(const int32_t *acc, int32_t stride, const int32_t *q, int32_t n, int8_t *out,
                                  int32_t output_offset, int32_t act_min, int32_t act_max)
{
    pb_fast_requant_run(acc, stride, q, n, out, output_offset, act_min, act_max, PB_REQUANT_EXACT, 0);
}

/* One requantization pass, with the layer's mode and clamp compiled in. */
static inline void pb_fast_requant_all(const int32_t *acc, int32_t stride, const int32_t *q, int32_t n, int8_t *out,
                                int32_t requant, int32_t output_offset, int32_t act_min, int32_t act_max)
{
    if (requant != PB_REQUANT_FAST) {
        pb_fast_requant_exact(acc, stride, q, n, out, output_offset, act_min, act_max);
    } else if (act_min == -128 && act_max == 127) {
        pb_fast_requant_fast_full(acc, stride, q, n, out, output_offset, act_min, act_max);
    } else {
        pb_fast_requant_fast_clamped(acc, stride, q, n, out, output_offset, act_min, act_max);
    }
}

/* ---- im2col -------------------------------------------------------------------------- */

/* n bytes, usually few (one tap or one filter row): word moves, then the odd bytes,
 * inline; a library call costs more than the copy itself at these sizes. */
static PB_ALWAYS_INLINE void pb_fast_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    if (n >= 64) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        pb_store32(dst, pb_load32(src));
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

static PB_ALWAYS_INLINE void pb_fast_fill(int8_t *dst, int32_t value, int32_t n)
{
    const uint32_t word = 0x01010101u * (uint8_t)value;
    for (; n >= 4; n -= 4, dst += 4) {
        pb_store32(dst, word);
    }
    for (; n > 0; --n) {
        *dst++ = (int8_t)value;
    }
}

/* Row `row` of the im2col matrix: the taps of one output pixel in filter order, padding
 * taps set to the zero point, then zeros up to depth_pad (their weights are zero). A
 * filter row wholly inside the input is one contiguous run of filter_w * in_c bytes. */
static inline void pb_fast_im2col(const pb_fast_mm_params_t *p, const int8_t *input, int32_t row, int8_t *dst)
{
    const int32_t per_batch = p->out_h * p->out_w;
    const int32_t b = row / per_batch, pixel = row - b * per_batch;
    const int32_t oy = pixel / p->out_w, ox = pixel - oy * p->out_w;
    const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int32_t run = p->filter_w * p->in_c;
    const int whole_rows = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->filter_w <= p->in_w;
    int32_t ky, kx;
    for (ky = 0; ky < p->filter_h; ++ky) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        if (iy < 0 || iy >= p->in_h) {
            pb_fast_fill(dst, p->pad_value, run);
            dst += run;
        } else if (whole_rows) {
            pb_fast_copy(dst, in_b + (iy * p->in_w + ix0) * p->in_c, run);
            dst += run;
        } else {
            for (kx = 0; kx < p->filter_w; ++kx, dst += p->in_c) {
                const int32_t ix = ix0 + kx * p->dilation_w;
                if (ix >= 0 && ix < p->in_w) {
                    pb_fast_copy(dst, in_b + (iy * p->in_w + ix) * p->in_c, p->in_c);
                } else {
                    pb_fast_fill(dst, p->pad_value, p->in_c);
                }
            }
        }
    }
    pb_fast_fill(dst, 0, p->depth_pad - p->depth);
}

#endif /* PB_FAST_COMMON_H */
