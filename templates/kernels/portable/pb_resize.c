/* RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR from precomputed source tables. */
#include "pb_resize.h"

void pb_resize_nearest(const pb_resize_nearest_params_t *p, const void *input, void *output)
{
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    const int32_t pixel = p->depth * p->elem_bytes;
    const int32_t row = p->input_w * pixel;
    int32_t b, y, x, k;
    for (b = 0; b < p->batches; ++b) {
        const uint8_t *image = in + b * p->input_h * row;
        for (y = 0; y < p->output_h; ++y) {
            const uint8_t *src_row = image + p->src_y[y] * row;
            for (x = 0; x < p->output_w; ++x) {
                const uint8_t *src = src_row + p->src_x[x] * pixel;
                for (k = 0; k < pixel; ++k) {
                    *out++ = src[k];
                }
            }
        }
    }
}

/* The four-tap sum is in 20 fractional bits; round half away from zero into the integer. */
static inline int32_t pb_resize_round20_32(int32_t sum)
{
    return (sum + pb_select(sum > 0, 1 << 19, -(1 << 19))) / (1 << 20);
}

static inline int32_t pb_resize_round20_64(int64_t sum)
{
    const int64_t half = sum > 0 ? ((int64_t)1 << 19) : -((int64_t)1 << 19);
    return (int32_t)((sum + half) / ((int64_t)1 << 20));
}

/* Weights (1024 - f) for the lower tap and f for the upper one; f can be negative at the
 * first half-pixel row (then both taps are the same row). With int8 data every product and
 * the sum stay below 2^31. */
void pb_resize_bilinear_s8(const pb_resize_bilinear_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t row = p->input_w * p->depth;
    int32_t b, y, x, c;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * p->input_h * row;
        for (y = 0; y < p->output_h; ++y) {
            const int8_t *r0 = image + p->y0[y] * row;
            const int8_t *r1 = image + p->y1[y] * row;
            const int32_t wy = p->fy[y], wy1 = (1 << 10) - p->fy[y];
            for (x = 0; x < p->output_w; ++x) {
                const int32_t c0 = p->x0[x] * p->depth, c1 = p->x1[x] * p->depth;
                const int32_t wx = p->fx[x], wx1 = (1 << 10) - p->fx[x];
                for (c = 0; c < p->depth; ++c) {
                    const int32_t sum = r0[c0 + c] * wy1 * wx1 + r1[c0 + c] * wy * wx1
                                        + r0[c1 + c] * wy1 * wx + r1[c1 + c] * wy * wx;
                    *output++ = (int8_t)pb_resize_round20_32(sum);
                }
            }
        }
    }
}

void pb_resize_bilinear_s16(const pb_resize_bilinear_params_t *p, const int16_t *input, int16_t *output)
{
    const int32_t row = p->input_w * p->depth;
    int32_t b, y, x, c;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *image = input + b * p->input_h * row;
        for (y = 0; y < p->output_h; ++y) {
            const int16_t *r0 = image + p->y0[y] * row;
            const int16_t *r1 = image + p->y1[y] * row;
            const int64_t wy = p->fy[y], wy1 = (1 << 10) - p->fy[y];
            for (x = 0; x < p->output_w; ++x) {
                const int32_t c0 = p->x0[x] * p->depth, c1 = p->x1[x] * p->depth;
                const int64_t wx = p->fx[x], wx1 = (1 << 10) - p->fx[x];
                for (c = 0; c < p->depth; ++c) {
                    const int64_t sum = r0[c0 + c] * wy1 * wx1 + r1[c0 + c] * wy * wx1
                                        + r0[c1 + c] * wy1 * wx + r1[c1 + c] * wy * wx;
                    *output++ = (int16_t)pb_resize_round20_64(sum);
                }
            }
        }
    }
}

/* Evaluated left to right in float as TFLite does, the final + 0.0f included (it turns a
 * -0.0f sum into +0.0f). */
void pb_resize_bilinear_f32(const pb_resize_bilinear_params_t *p, const float *input, float *output)
{
    const int32_t row = p->input_w * p->depth;
    int32_t b, y, x, c;
    for (b = 0; b < p->batches; ++b) {
        const float *image = input + b * p->input_h * row;
        for (y = 0; y < p->output_h; ++y) {
            const float *r0 = image + p->y0[y] * row;
            const float *r1 = image + p->y1[y] * row;
            const float wy = p->wy[y], wy1 = p->wy1[y];
            for (x = 0; x < p->output_w; ++x) {
                const int32_t c0 = p->x0[x] * p->depth, c1 = p->x1[x] * p->depth;
                const float wx = p->wx[x], wx1 = p->wx1[x];
                for (c = 0; c < p->depth; ++c) {
                    *output++ = r0[c0 + c] * wy1 * wx1 + r1[c0 + c] * wy * wx1
                                + r0[c1 + c] * wy1 * wx + r1[c1 + c] * wy * wx + 0.0f;
                }
            }
        }
    }
}
