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

void pb_avg_pool_s8(const pb_avg_pool_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, y, x;
    const int32_t row = p->input_w * p->depth;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + b * p->input_h * row;
        for (oy = 0; oy < p->output_h; ++oy) {
            for (ox = 0; ox < p->output_w; ++ox) {
                const pb_pool_window_t w = pb_pool_window(p, oy, ox);
                const int32_t count = (w.y1 - w.y0) * (w.x1 - w.x0);
                for (c = 0; c < p->depth; ++c) {
                    int32_t sum = 0;
                    int32_t avg;
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            sum += in[y * row + x * p->depth + c];
                        }
                    }
                    avg = pb_pool_average(sum, count);
                    *output++ = (int8_t)PB_CLAMP(avg, p->act_min, p->act_max);
                }
            }
        }
    }
}

void pb_avg_pool_s16(const pb_avg_pool_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t b, oy, ox, c, y, x;
    const int32_t row = p->input_w * p->depth;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in = input + b * p->input_h * row;
        for (oy = 0; oy < p->output_h; ++oy) {
            for (ox = 0; ox < p->output_w; ++ox) {
                const pb_pool_window_t w = pb_pool_window(p, oy, ox);
                const int32_t count = (w.y1 - w.y0) * (w.x1 - w.x0);
                for (c = 0; c < p->depth; ++c) {
                    int32_t sum = 0;
                    int32_t avg;
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            sum += in[y * row + x * p->depth + c];
                        }
                    }
                    avg = pb_pool_average(sum, count);
                    *output++ = (int16_t)PB_CLAMP(avg, p->act_min, p->act_max);
                }
            }
        }
    }
}

void pb_max_pool_s8(const pb_max_pool_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t b, oy, ox, c, y, x;
    const int32_t row = p->input_w * p->depth;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + b * p->input_h * row;
        for (oy = 0; oy < p->output_h; ++oy) {
            for (ox = 0; ox < p->output_w; ++ox) {
                const pb_pool_window_t w = pb_pool_window(p, oy, ox);
                for (c = 0; c < p->depth; ++c) {
                    int32_t m = INT8_MIN;
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            const int32_t v = in[y * row + x * p->depth + c];
                            m = PB_MAX(m, v);
                        }
                    }
                    *output++ = (int8_t)PB_CLAMP(m, p->act_min, p->act_max);
                }
            }
        }
    }
}

void pb_max_pool_s16(const pb_max_pool_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t b, oy, ox, c, y, x;
    const int32_t row = p->input_w * p->depth;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in = input + b * p->input_h * row;
        for (oy = 0; oy < p->output_h; ++oy) {
            for (ox = 0; ox < p->output_w; ++ox) {
                const pb_pool_window_t w = pb_pool_window(p, oy, ox);
                for (c = 0; c < p->depth; ++c) {
                    int32_t m = INT16_MIN;
                    for (y = w.y0; y < w.y1; ++y) {
                        for (x = w.x0; x < w.x1; ++x) {
                            const int32_t v = in[y * row + x * p->depth + c];
                            m = PB_MAX(m, v);
                        }
                    }
                    *output++ = (int16_t)PB_CLAMP(m, p->act_min, p->act_max);
                }
            }
        }
    }
}
