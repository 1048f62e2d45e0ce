/* SignalFramer, SignalDelay, SignalStacker and SignalOverlapAdd: first-in first-out
 * rings of samples kept from one invocation to the next, as TFLite Micro's circular
 * buffers keep them. */
#include <string.h>

#include "pb_signal_buffer.h"

typedef struct {
    int32_t read;   /* oldest sample */
    int32_t fill;   /* samples held, minus the ring's prefill */
    int32_t flag;   /* the stacker's "first frame seen" */
} pb_signal_ring_t;

static pb_signal_ring_t *pb_ring(void *state, int32_t row, int32_t ring_bytes)
{
    return (pb_signal_ring_t *)(void *)((uint8_t *)state + (size_t)row * (size_t)ring_bytes);
}

static int16_t *pb_ring_data(pb_signal_ring_t *r)
{
    return (int16_t *)(void *)(r + 1);
}

static void pb_ring_write(pb_signal_ring_t *r, int32_t capacity, int32_t held, const int16_t *values, int32_t n)
{
    int16_t *data = pb_ring_data(r);
    int32_t at = r->read + held, k;
    if (at >= capacity) {
        at -= capacity;
    }
    for (k = 0; k < n; ++k) {
        data[at] = values[k];
        if (++at == capacity) {
            at = 0;
        }
    }
    r->fill += n;
}

static void pb_ring_get(pb_signal_ring_t *r, int32_t capacity, int16_t *out, int32_t n)
{
    const int16_t *data = pb_ring_data(r);
    int32_t at = r->read, k;
    for (k = 0; k < n; ++k) {
        out[k] = data[at];
        if (++at == capacity) {
            at = 0;
        }
    }
}

static void pb_ring_discard(pb_signal_ring_t *r, int32_t capacity, int32_t n)
{
    r->read += n;
    if (r->read >= capacity) {
        r->read -= capacity;
    }
    r->fill -= n;
}

void pb_signal_framer_s16(const pb_signal_framer_params_t *p, const int16_t *input, int16_t *output,
                          uint8_t *valid, void *state)
{
    int32_t i, frame;
    *valid = 1;
    for (i = 0; i < p->outer; ++i) {
        pb_signal_ring_t *r = pb_ring(state, i, p->ring_bytes);
        for (frame = 0; frame < p->n_frames; ++frame) {
            const int32_t k = i * p->n_frames + frame;
            pb_ring_write(r, p->capacity, r->fill + p->prefill, input + k * p->frame_step, p->frame_step);
            if (r->fill + p->prefill >= p->frame_size) {
                pb_ring_get(r, p->capacity, output + k * p->frame_size, p->frame_size);
                pb_ring_discard(r, p->capacity, p->frame_step);
            } else {
                *valid = 0;
            }
        }
    }
}

void pb_signal_delay_s16(const pb_signal_delay_params_t *p, const int16_t *input, int16_t *output, void *state)
{
    int32_t i;
    for (i = 0; i < p->outer; ++i) {
        pb_signal_ring_t *r = pb_ring(state, i, p->ring_bytes);
        const int32_t at = i * p->frame_size;
        pb_ring_write(r, p->capacity, r->fill + p->delay, input + at, p->frame_size);
        pb_ring_get(r, p->capacity, output + at, p->frame_size);
        pb_ring_discard(r, p->capacity, p->frame_size);
    }
}

void pb_signal_stacker_s16(const pb_signal_stacker_params_t *p, const int16_t *input, int16_t *output,
                           uint8_t *valid, void *state)
{
    pb_signal_ring_t *r = (pb_signal_ring_t *)state;
    const int32_t capacity = p->buffer_size;
    pb_ring_write(r, capacity, r->fill, input, p->num_channels);
    if (!r->flag) {
        /* The first frame stands in for the left context it has no history for: its
         * samples are written again left_context times. */
        int16_t *data = pb_ring_data(r);
        int32_t from = r->read + r->fill - p->num_channels, k;
        if (from >= capacity) {
            from -= capacity;
        }
        for (k = 0; k < p->left_context * p->num_channels; ++k) {
            int32_t src = from + k % p->num_channels, dst = r->read + r->fill;
            src -= src >= capacity ? capacity : 0;
            dst -= dst >= capacity ? capacity : 0;
            data[dst] = data[src];
            r->fill += 1;
        }
        r->flag = 1;
    }
    if (r->fill >= p->buffer_size) {
        pb_ring_get(r, capacity, output, p->buffer_size);
        pb_ring_discard(r, capacity, p->step_size);
        *valid = 1;
    } else {
        *valid = 0;
    }
}

void pb_signal_overlap_add_s16(const pb_signal_overlap_add_params_t *p, const int16_t *input, int16_t *output,
                               void *state)
{
    const int32_t fs = p->frame_size, step = p->frame_step;
    int32_t i, frame, k;
    for (i = 0; i < p->outer; ++i) {
        int16_t *sum = (int16_t *)state + i * fs;
        for (frame = 0; frame < p->n_frames; ++frame) {
            const int16_t *in = input + (i * p->n_frames + frame) * fs;
            for (k = 0; k < fs; ++k) {
                const int32_t v = (int32_t)in[k] + sum[k];
                sum[k] = (int16_t)PB_CLAMP(v, INT16_MIN, INT16_MAX);
            }
            memcpy(output + (i * p->n_frames + frame) * step, sum, (size_t)step * sizeof(int16_t));
            memmove(sum, sum + step, (size_t)(fs - step) * sizeof(int16_t));
            memset(sum + fs - step, 0, (size_t)step * sizeof(int16_t));
        }
    }
}

void pb_signal_overlap_add_f32(const pb_signal_overlap_add_params_t *p, const float *input, float *output,
                               void *state)
{
    const int32_t fs = p->frame_size, step = p->frame_step;
    int32_t i, frame, k;
    for (i = 0; i < p->outer; ++i) {
        float *sum = (float *)state + i * fs;
        for (frame = 0; frame < p->n_frames; ++frame) {
            const float *in = input + (i * p->n_frames + frame) * fs;
            for (k = 0; k < fs; ++k) {
                sum[k] += in[k];
            }
            memcpy(output + (i * p->n_frames + frame) * step, sum, (size_t)step * sizeof(float));
            memmove(sum, sum + step, (size_t)(fs - step) * sizeof(float));
            for (k = fs - step; k < fs; ++k) {
                sum[k] = 0.0f;
            }
        }
    }
}
