/* protobrain: what the fast tiers' 16x8 kernels share (int16 activations, int8 weights;
 * dsp/ and mve/pb_conv16.c, pb_depthwise_conv16.c): their parameters, the output window's
 * stepping, the int16 im2col row and the per-channel requantization.
 *
 * TFLite Micro's 16x8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED sum int16 inputs
 * (zero point 0) times int8 weights in int64, add an int64 bias and requantize in int64:
 * (acc * reduced + 2^(ts - 1)) >> ts, with reduced the multiplier rounded to 16 bits and
 * ts = 15 - shift. The generator (protobrain/compiler/ops/tiers/wide16.py) bounds each
 * channel's sum from its weights and picks, per layer:
 *   PB_W16_HI:  the sum fits int32; the bias, the rounding and the output offset are one
 *               int64 constant K' and the shift is folded into the multiplier
 *               m' = reduced << (32 - ts), so the output is the high word of K' + sum * m'
 *               (one SMLAL);
 *   PB_W16_R64: the sum in int64 (the DSP tier adds int32 partial sums of at most `chunk`
 *               blocks of 4 taps, each provably within int32); K = bias * reduced +
 *               2^(ts - 1), then (K + sum * reduced) >> ts, the reference's arithmetic;
 *   PB_W16_R32: CONV_2D with an int32 bias, which TFLite Micro sums in int32 and
 *               requantizes with the 32-bit MultiplyByQuantizedMultiplier;
 *   PB_W16_MULR: HI where the sum plus the bias fits int32 too and the output offset is 0
 *               (the usual case): the output is the rounded high word of
 *               (sum + bias) * m', one SMMULR (VRMULH on Helium's four lanes), since
 *               (x * m' + 2^31) >> 32 equals (x * reduced + 2^(ts - 1)) >> ts when
 *               m' = reduced << (32 - ts).
 * Every form computes the reference's value exactly: the sums are the same integers and
 * each requantization is the reference's expression rearranged without rounding. */
#ifndef PB_FAST16_H
#define PB_FAST16_H

#include <string.h>

#include "pb_common.h"

#if defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#endif

#define PB_W16_HI 0
#define PB_W16_R64 1
#define PB_W16_R32 2
#define PB_W16_MULR 3
/* per channel: HI K'lo, K'hi, m', 0; R64 Klo, Khi, reduced, ts; R32 bias, mult, shift, 0;
 * MULR bias, m', 0, 0 (a depthwise layer's: per group of 4 channels 4 biases, 4 m', 8 zeros) */
#define PB_W16_WORDS 4

typedef struct {
    int32_t rows;              /* output pixels (batches * out_h * out_w), or FC batches */
    int32_t in_h, in_w, in_c;  /* input of one batch */
    int32_t out_h, out_w;
    int32_t out_c;             /* output channels (one output row) */
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t depth;             /* taps per output: filter_h * filter_w * in_c */
    int32_t depth_pad;         /* depth rounded up to 8 (zero weights beyond) */
    int32_t direct;            /* rows read in place (1x1 window, no padding, depth == depth_pad) */
    int32_t chunk;             /* PB_W16_R64, DSP tier: blocks of 4 taps summed in int32 at a time */
    int32_t requant;           /* PB_W16_* */
    int32_t wide_weights;      /* DSP tier: weights stored as int16 pairs */
    int32_t output_offset, act_min, act_max;
    const int32_t *weights;    /* the tier's layout (wide16.py) */
    const int32_t *quant;      /* PB_W16_WORDS per output channel */
} pb_fast_mm16_params_t;

typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t requant;           /* PB_W16_MULR, HI or R64 */
    int32_t step;              /* channels a step: 4, or 8 (Helium, MULR) */
    int32_t act_min, act_max;
    const int32_t *weights;    /* [channels / step][tap][step] int16 */
    const int32_t *quant;      /* PB_W16_WORDS per channel */
} pb_fast_dw16_params_t;

#if defined(__GNUC__)
#define PB_F16_INLINE inline __attribute__((always_inline))
#else
#define PB_F16_INLINE inline
#endif

static PB_F16_INLINE int64_t pb_w16_k(const int32_t *q)
{
    return (int64_t)(((uint64_t)(uint32_t)q[1] << 32) | (uint32_t)q[0]);
}

/* k + a * b in 64 bits: one SMLAL on Arm (GCC widens the product to a full 64x64
 * multiply where it cannot see both factors are int32). */
static PB_F16_INLINE int64_t pb_w16_mac64(int64_t k, int32_t a, int32_t b)
{
#if defined(__ARM_ARCH) && __ARM_ARCH >= 7 && !defined(__ARM_ARCH_6M__)
    uint32_t lo = (uint32_t)k, hi = (uint32_t)((uint64_t)k >> 32);
    __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(a), "r"(b));
    return (int64_t)(((uint64_t)hi << 32) | lo);
#else
    return k + (int64_t)a * b;
#endif
}

/* (a * b + 2^31) >> 32: one SMMULR on Arm. */
static PB_F16_INLINE int32_t pb_w16_mulr(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* Clamped with selects (conditional moves on Arm, no branch). */
static PB_F16_INLINE int32_t pb_w16_clamp(int32_t r, int32_t act_min, int32_t act_max)
{
    r = r < act_min ? act_min : r;
    return r > act_max ? act_max : r;
}

/* The clamp a layer's activation range allows (a kernel form's constant): int16's whole
 * range is one SSAT, ReLU's [0, 32767] one USAT, any other range two selects. */
#define PB_W16_CLAMP_ANY 0
#define PB_W16_CLAMP_S16 1
#define PB_W16_CLAMP_RELU 2

static PB_F16_INLINE int pb_w16_clamp_of(int32_t act_min, int32_t act_max)
{
    if (act_min == INT16_MIN && act_max == INT16_MAX) {
        return PB_W16_CLAMP_S16;
    }
    return act_min == 0 && act_max == INT16_MAX ? PB_W16_CLAMP_RELU : PB_W16_CLAMP_ANY;
}

static PB_F16_INLINE int32_t pb_w16_clamp_form(int32_t r, int32_t act_min, int32_t act_max, int clamp)
{
#if defined(__ARM_FEATURE_SAT)
    if (clamp == PB_W16_CLAMP_S16) {
        return __ssat(r, 16);
    }
    if (clamp == PB_W16_CLAMP_RELU) {
        return (int32_t)__usat(r, 15);
    }
#else
    (void)clamp;
#endif
    return pb_w16_clamp(r, act_min, act_max);
}

/* One channel's output from its int32 sum (PB_W16_HI: one 64-bit multiply-add, its high
 * word; PB_W16_MULR: one rounded high multiply; PB_W16_R32), not yet clamped. */
static PB_F16_INLINE int32_t pb_w16_out32(int32_t sum, const int32_t *q, int32_t mode)
{
    if (mode == PB_W16_HI) {
        return (int32_t)((uint64_t)pb_w16_mac64(pb_w16_k(q), sum, q[2]) >> 32);
    }
    if (mode == PB_W16_R64) {
        return (int32_t)(pb_w16_mac64(pb_w16_k(q), sum, q[2]) >> q[3]);
    }
    if (mode == PB_W16_MULR) {
        return pb_w16_mulr(sum + q[0], q[1]);
    }
    return pb_mul_by_quantized_mult((int32_t)((uint32_t)sum + (uint32_t)q[0]), q[1], q[2]);
}

/* PB_W16_R64 from an int64 sum, not yet clamped. */
static PB_F16_INLINE int32_t pb_w16_out64(int64_t sum, const int32_t *q)
{
    return (int32_t)((pb_w16_k(q) + sum * q[2]) >> q[3]);
}

/* An output pixel's window, stepped pixel by pixel. */
typedef struct {
    const int16_t *in_b;
    int32_t iy0, ix0, oy, ox;
} pb_f16_window_t;

static PB_F16_INLINE void pb_f16_window_start(const pb_fast_mm16_params_t *p, const int16_t *input,
                                              pb_f16_window_t *win)
{
    win->in_b = input;
    win->iy0 = -p->pad_top;
    win->ix0 = -p->pad_left;
    win->oy = win->ox = 0;
}

static PB_F16_INLINE void pb_f16_window_next(const pb_fast_mm16_params_t *p, pb_f16_window_t *win)
{
    win->ix0 += p->stride_w;
    if (++win->ox == p->out_w) {
        win->ox = 0;
        win->ix0 = -p->pad_left;
        win->iy0 += p->stride_h;
        if (++win->oy == p->out_h) {
            win->oy = 0;
            win->iy0 = -p->pad_top;
            win->in_b += p->in_h * p->in_w * p->in_c;
        }
    }
}

static PB_F16_INLINE const int16_t *pb_f16_origin(const pb_fast_mm16_params_t *p, const pb_f16_window_t *win)
{
    return win->in_b + (win->iy0 * p->in_w + win->ix0) * p->in_c;
}

/* n int16 values: inline for the short runs of a small filter, memcpy past them. */
static PB_F16_INLINE void pb_f16_copy(int16_t *dst, const int16_t *src, int32_t n)
{
    if (n >= 32) {
        memcpy(dst, src, (size_t)n * 2);
        return;
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

static PB_F16_INLINE void pb_f16_zero(int16_t *dst, int32_t n)
{
    if (n >= 32) {
        memset(dst, 0, (size_t)n * 2);
        return;
    }
    for (; n > 0; --n) {
        *dst++ = 0;
    }
}

/* A window at the input's edge: per filter row, the taps inside the input copied as one run
 * (tap by tap when dilated), the padding taps 0. */
static void pb_f16_gather(const pb_fast_mm16_params_t *p, const pb_f16_window_t *win, int16_t *d)
{
    const int32_t run = p->filter_w * p->in_c;
    int32_t ky, kx, kx0, kx1;
    pb_tap_range(win->ix0, p->dilation_w, p->filter_w, p->in_w, &kx0, &kx1);
    for (ky = 0; ky < p->filter_h; ++ky, d += run) {
        const int32_t iy = win->iy0 + ky * p->dilation_h;
        const int16_t *src = win->in_b + (iy * p->in_w + win->ix0 + kx0 * p->dilation_w) * p->in_c;
        if (iy < 0 || iy >= p->in_h || kx0 >= kx1) {
            pb_f16_zero(d, run);
            continue;
        }
        pb_f16_zero(d, kx0 * p->in_c);
        if (p->dilation_w == 1) {
            pb_f16_copy(d + kx0 * p->in_c, src, (kx1 - kx0) * p->in_c);
        } else {
            for (kx = kx0; kx < kx1; ++kx, src += p->dilation_w * p->in_c) {
                pb_f16_copy(d + kx * p->in_c, src, p->in_c);
            }
        }
        pb_f16_zero(d + kx1 * p->in_c, (p->filter_w - kx1) * p->in_c);
    }
}

/* The window's taps as one row of depth_pad int16 (padding taps and the tail read 0, the
 * 16x8 zero point), or with `direct` the input itself. */
static inline const int16_t *pb_f16_row(const pb_fast_mm16_params_t *p, const pb_f16_window_t *win, int16_t *dst)
{
    int32_t ky;
    int16_t *d = dst;
    if (p->direct) {
        return pb_f16_origin(p, win);
    }
    if (p->dilation_w == 1 && win->ix0 >= 0 && win->ix0 + p->filter_w <= p->in_w && win->iy0 >= 0 &&
        win->iy0 + (p->filter_h - 1) * p->dilation_h < p->in_h) {
        /* inside the input: each filter row is one run */
        const int32_t run = p->filter_w * p->in_c;
        const int16_t *s = pb_f16_origin(p, win);
        for (ky = 0; ky < p->filter_h; ++ky, d += run, s += p->dilation_h * p->in_w * p->in_c) {
            pb_f16_copy(d, s, run);
        }
    } else {
        pb_f16_gather(p, win, d);
        d += p->depth;
    }
    for (ky = p->depth; ky < p->depth_pad; ++ky) {
        *d++ = 0;
    }
    return dst;
}

#endif /* PB_FAST16_H */
