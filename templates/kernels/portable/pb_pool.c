/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 and int16. */
#include "pb_pool.h"

/* The part of the window at output (oy, ox) that lies inside the input, as [y0, y1) x [x0, x1)
 * in input coordinates. */
typedef struct {
    int32_t y0, y1, x0, x1;
} pb_pool_window_t;

static inline pb_pool_window_t pb_pool_window(const pb_pool_params_t *p, int32_t oy, int32_t ox)
{
    pb_pool_window_t w;
    const int32_t iy = oy * p->stride_h - p->pad_h;
    const int32_t ix = ox * p->stride_w - p->pad_w;
    w.y0 = PB_MAX(iy, 0);
    w.y1 = PB_MIN(iy + p->filter_h, p->input_h);
    w.x0 = PB_MAX(ix, 0);
    w.x1 = PB_MIN(ix + p->filter_w, p->input_w);
    return w;
}

/* Sum over the window divided by the number of taps inside the input, rounded half away
 * from zero; an empty window (impossible with generated padding) gives 0. */
static inline int32_t pb_pool_average(int32_t sum, int32_t count)
{
    if (count == 0) {
        return 0;
    }
    /* round half away from zero; the select keeps it free of data-dependent branches */
    return (sum + pb_select(sum > 0, count / 2, -(count / 2))) / count;
}

/* Channels per pass of the integer pools: their running sums (or maxima) on the stack. */
#define PB_POOL_CHUNK 64

/* The integer pools, one body: the average (sum over the window, pb_pool_average) or the
 * maximum of each channel's window, of int8 or (wide) int16 values, clamped to the
 * activation's range. Per output pixel, PB_POOL_CHUNK channels at a time, each window tap
 * is one contiguous run of channels added into (or maxed with) the running values: the
 * channels innermost, as the input lies, not one channel's window at a time. max and wide
 * are constants at each call: each pool compiles to its own loop. */
#if defined(__GNUC__)
#define PB_POOL_INLINE static inline __attribute__((always_inline))
#else
#define PB_POOL_INLINE static inline
#endif

PB_POOL_INLINE void pb_pool_int(const pb_pool_params_t *p, const void *input, void *output, int32_t max,
                                int32_t wide)
{
    int32_t b, oy, ox, c0, y, x, j;
    const int32_t depth = p->depth, row = p->input_w * depth, lowest = wide ? INT16_MIN : INT8_MIN;
    int32_t acc[PB_POOL_CHUNK];
    int8_t *out8 = (int8_t *)output;
    int16_t *out16 = (int16_t *)output;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in8 = (const int8_t *)input + b * p->input_h * row;
        const int16_t *in16 = (const int16_t *)input + b * p->input_h * row;
        for (oy = 0; oy < p->output_h; ++oy) {
            for (ox = 0; ox < p->output_w; ++ox) {
                const pb_pool_window_t w = pb_pool_window(p, oy, ox);
                const int32_t count = (w.y1 - w.y0) * (w.x1 - w.x0);
                for (c0 = 0; c0 < depth; c0 += PB_POOL_CHUNK) {
                    const int32_t n = PB_MIN(depth - c0, PB_POOL_CHUNK);
                    for (j = 0; j < n; ++j) {
                        acc[j] = max ? lowest : 0;
                    }
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            const int32_t at = y * row + x * depth + c0;
                            if (wide) {
                                const int16_t *src = in16 + at;
                                for (j = 0; j < n; ++j) {
                                    acc[j] = max ? PB_MAX(acc[j], src[j]) : acc[j] + src[j];
                                }
                            } else {
                                const int8_t *src = in8 + at;
                                for (j = 0; j < n; ++j) {
                                    acc[j] = max ? PB_MAX(acc[j], src[j]) : acc[j] + src[j];
                                }
                            }
                        }
                    }
                    for (j = 0; j < n; ++j) {
                        const int32_t v = PB_CLAMP(max ? acc[j] : pb_pool_average(acc[j], count), p->act_min,
                                                   p->act_max);
                        if (wide) {
                            *out16++ = (int16_t)v;
                        } else {
                            *out8++ = (int8_t)v;
                        }
                    }
                }
            }
        }
    }
}

void pb_avg_pool_s8(const pb_avg_pool_params_t *p, const int8_t *input, int8_t *output)
{
    pb_pool_int(p, input, output, 0, 0);
}

void pb_avg_pool_s16(const pb_avg_pool_params_t *p, const int16_t *input, int16_t *output)
{
    pb_pool_int(p, input, output, 0, 1);
}

void pb_max_pool_s8(const pb_max_pool_params_t *p, const int8_t *input, int8_t *output)
{
    pb_pool_int(p, input, output, 1, 0);
}

void pb_max_pool_s16(const pb_max_pool_params_t *p, const int16_t *input, int16_t *output)
{
    pb_pool_int(p, input, output, 1, 1);
}

/* ---- float32 ---------------------------------------------------------------------------- */

/* min(max(x, lo), hi) in the argument order that lets a NaN through. */
static inline float pb_pool_clamp_f32(const pb_pool_params_t *p, float x)
{
    x = x < p->act_min_f ? p->act_min_f : x;
    return p->act_max_f < x ? p->act_max_f : x;
}

/* Correctly rounded single-precision square root of x >= 0 (or NaN, returned as it is),
 * in integer arithmetic: no libm, the same bits on every core with or without an FPU. */
static float pb_pool_sqrtf(float x)
{
    union {
        float f;
        uint32_t u;
    } v;
    uint32_t mant;
    int32_t exp2;      /* x = mant * 2^exp2 */
    uint64_t n, r = 0, bit = (uint64_t)1 << 48;
    v.f = x;
    if ((v.u & 0x7FFFFFFFu) == 0 || (v.u >> 23) >= 0xFFu) {
        return x; /* +-0, +inf, NaN (negative inputs do not occur) */
    }
    mant = v.u & 0x7FFFFFu;
    if ((v.u >> 23) == 0) {
        exp2 = -149;
        while ((mant & 0x800000u) == 0) {
            mant <<= 1;
            --exp2;
        }
    } else {
        mant |= 0x800000u;
        exp2 = (int32_t)(v.u >> 23) - 150;
    }
    if ((exp2 & 1) == 0) { /* an odd exponent, so that (exp2 - 23) / 2 is whole */
        mant <<= 1;
        --exp2;
    }
    /* n in [2^46, 2^48): its integer square root has exactly 24 bits */
    n = (uint64_t)mant << 23;
    while (bit > n) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (n >= r + bit) {
            n -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    /* n is now the remainder: the root lies past r + 1/2 exactly when n > r (never on it) */
    if (n > r) {
        ++r;
    }
    exp2 = (exp2 - 23) / 2;
    if (r == ((uint64_t)1 << 24)) {
        r >>= 1;
        ++exp2;
    }
    v.u = ((uint32_t)(exp2 + 23 + 127) << 23) | ((uint32_t)r & 0x7FFFFFu);
    return v.f;
}

void pb_avg_pool_f32(const pb_avg_pool_params_t *p, const float *input, float *output)
{
    int32_t b, oy, ox, c, y, x;
    const int32_t row = p->input_w * p->depth;
    for (b = 0; b < p->batches; ++b) {
        const float *in = input + b * p->input_h * row;
        for (oy = 0; oy < p->output_h; ++oy) {
            for (ox = 0; ox < p->output_w; ++ox) {
                const pb_pool_window_t w = pb_pool_window(p, oy, ox);
                const float count = (float)((w.y1 - w.y0) * (w.x1 - w.x0));
                for (c = 0; c < p->depth; ++c) {
                    float sum = 0.0f;
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            sum += in[y * row + x * p->depth + c];
                        }
                    }
                    *output++ = pb_pool_clamp_f32(p, sum / count);
                }
            }
        }
    }
}

void pb_max_pool_f32(const pb_max_pool_params_t *p, const float *input, float *output)
{
    int32_t b, oy, ox, c, y, x;
    const int32_t row = p->input_w * p->depth;
    for (b = 0; b < p->batches; ++b) {
        const float *in = input + b * p->input_h * row;
        for (oy = 0; oy < p->output_h; ++oy) {
            for (ox = 0; ox < p->output_w; ++ox) {
                const pb_pool_window_t w = pb_pool_window(p, oy, ox);
                for (c = 0; c < p->depth; ++c) {
                    float m = -3.40282347e+38f;
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            const float v = in[y * row + x * p->depth + c];
                            m = m < v ? v : m;
                        }
                    }
                    *output++ = pb_pool_clamp_f32(p, m);
                }
            }
        }
    }
}

void pb_l2_pool_f32(const pb_l2_pool_params_t *p, const float *input, float *output)
{
    int32_t b, oy, ox, c, y, x;
    const int32_t row = p->input_w * p->depth;
    for (b = 0; b < p->batches; ++b) {
        const float *in = input + b * p->input_h * row;
        for (oy = 0; oy < p->output_h; ++oy) {
            for (ox = 0; ox < p->output_w; ++ox) {
                const pb_pool_window_t w = pb_pool_window(p, oy, ox);
                const float count = (float)((w.y1 - w.y0) * (w.x1 - w.x0));
                for (c = 0; c < p->depth; ++c) {
                    float sum = 0.0f;
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            const float v = in[y * row + x * p->depth + c];
                            sum += v * v;
                        }
                    }
                    *output++ = pb_pool_clamp_f32(p, pb_pool_sqrtf(sum / count));
                }
            }
        }
    }
}
