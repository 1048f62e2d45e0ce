/* QUANTIZE from float, int16 requantization, DEQUANTIZE from int16.
 * (int8 inputs go through the table kernels in pb_lut.) */
#include "pb_quantize.h"

/* round_half_away(x / scale) + zero_point clamped to [lo, hi], without libm. Beyond
 * +-131072 every int16 zero point saturates, so larger quotients clamp directly. */
static int32_t pb_quantize_one(float x, float scale, int32_t zero_point, int32_t lo, int32_t hi)
{
    const float q = x / scale;
    float frac;
    int32_t r;
    if (q != q) {
        return lo;
    }
    if (q >= 131072.0f) {
        return hi;
    }
    if (q <= -131072.0f) {
        return lo;
    }
    r = (int32_t)q;          /* truncates toward zero */
    frac = q - (float)r;     /* exact: q and r share sign and exponent range */
    if (frac >= 0.5f) {
        r += 1;
    } else if (frac <= -0.5f) {
        r -= 1;
    }
    r += zero_point;
    return PB_CLAMP(r, lo, hi);
}

void pb_quantize_f32_s8(const pb_quantize_f32_params_t *p, const float *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int8_t)pb_quantize_one(input[i], p->scale, p->zero_point, -128, 127);
    }
}

void pb_quantize_f32_s16(const pb_quantize_f32_params_t *p, const float *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        output[i] = (int16_t)pb_quantize_one(input[i], p->scale, p->zero_point, -32768, 32767);
    }
}

/* The requantization of int16 - input_zp (17 bits) in constant time, exactly as
 * MultiplyByQuantizedMultiplier: its rounded doubling high multiply is
 * floor((x * mult + 2^30) / 2^31) (one multiply-accumulate into 64 bits), and its
 * rounding right shift by rs (half away from zero) is floor((q + 2^(rs-1) - (q < 0)) / 2^rs),
 * whose 2^(rs-1) rides in the accumulator's start. q < 0 is read from x < 0: the multiplier
 * is positive, so they differ only where q is 0, and there both round to 0. With a left
 * shift the right shift is 0 and neither term applies. */
typedef struct {
    int32_t left, right, mult, neg_mask, input_zp, output_zp;
    int64_t start;
} pb_requant16_t;

static pb_requant16_t pb_requant16_setup(const pb_requantize_params_t *p)
{
    pb_requant16_t r;
    r.left = p->shift > 0 ? p->shift : 0;
    r.right = p->shift > 0 ? 0 : -p->shift;
    r.mult = p->mult;
    r.neg_mask = r.right > 0 ? -1 : 0;
    r.start = ((int64_t)1 << 30) + (r.right > 0 ? (int64_t)1 << (r.right + 30) : 0);
    r.input_zp = p->input_zero_point;
    r.output_zp = p->output_zero_point;
    return r;
}

static inline int32_t pb_requant16(const pb_requant16_t *r, int32_t value)
{
    /* Shift in unsigned arithmetic: wraps like the reference instead of being undefined. */
    const int32_t x = (int32_t)((uint32_t)(value - r->input_zp) << r->left);
    const int32_t q = (int32_t)(((int64_t)x * r->mult + r->start) >> 31);
    const int32_t v = (q + (-(int32_t)((uint32_t)x >> 31) & r->neg_mask)) >> r->right;
    return (int32_t)((uint32_t)v + (uint32_t)r->output_zp);
}

/* v saturated to [-half, half - 1], branch-free and exact for every int32 (the unsigned
 * compare cannot overflow): half the instructions of PB_CLAMP with its two selects. */
static inline int32_t pb_saturate(int32_t v, int32_t half)
{
    const int32_t inside = -(int32_t)((uint32_t)v + (uint32_t)half < 2u * (uint32_t)half);
    const int32_t limit = -(int32_t)((uint32_t)v >> 31) ^ (half - 1);
    return limit ^ ((v ^ limit) & inside);
}

void pb_requantize_s16_s8(const pb_requantize_params_t *p, const int16_t *input, int8_t *output)
{
    const pb_requant16_t r = pb_requant16_setup(p);
    const int32_t size = p->size;
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = (int8_t)pb_saturate(pb_requant16(&r, input[i]), 128);
    }
}

void pb_requantize_s16_s16(const pb_requantize_params_t *p, const int16_t *input, int16_t *output)
{
    const pb_requant16_t r = pb_requant16_setup(p);
    const int32_t size = p->size;
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = (int16_t)pb_saturate(pb_requant16(&r, input[i]), 32768);
    }
}

void pb_requantize_s16_s32(const pb_requantize_params_t *p, const int16_t *input, int32_t *output)
{
    const pb_requant16_t r = pb_requant16_setup(p);
    const int32_t size = p->size;
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = pb_requant16(&r, input[i]);
    }
}

void pb_dequantize_s16_f32(const pb_dequantize_params_t *p, const int16_t *input, float *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        /* |x - zp| < 2^17 and a float scale: the float product is the correctly rounded
         * exact product, identical to rounding the double product to float. */
        output[i] = p->scale * (float)(input[i] - p->zero_point);
    }
}
