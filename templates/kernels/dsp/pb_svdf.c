/* SVDF, DSP tier (see pb_svdf.h). */
#include "pb_svdf.h"

#include "pb_lstm.h"

/* The feature dot products of one batch, four filters at a time, into the newest slot of
 * each filter's memory: requantized, saturated to the state type (its range is the type's),
 * its zero point added after that (an int8 store may wrap, as TFLite Micro's does). */
#define PB_SVDF_FEATURES(T, SAT)                                                                      \
    do {                                                                                           \
        int32_t f_, k_;                                                                            \
        for (f_ = 0; f_ < p->filters; f_ += 4) {                                                   \
            int32_t acc_[4];                                                                       \
            for (k_ = 0; k_ < 4; ++k_) {                                                           \
                acc_[k_] = p->feature_bias[f_ + k_];                                               \
            }                                                                                      \
            pb_dsp_dot4(x, p->input_size, p->w_feature + f_ * p->input_words, p->input_words, acc_); \
            for (k_ = 0; k_ < 4 && f_ + k_ < p->filters; ++k_) {                                   \
                const int32_t v_ = pb_lstm_requant(acc_[k_], p->feature_mult, p->feature_shift, p->fast); \
                sb[(f_ + k_) * p->memory + p->memory - 1] = (T)(p->state_zp + SAT(v_));            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* acc + the dot product of n int8 (or int16) values of a and b, any alignment: SMLAD on
 * int16 pairs, the last values one by one. */
static int32_t pb_svdf_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    int32_t j;
    for (j = 0; j + 4 <= n; j += 4) {
        const uint32_t x = pb_load32(a + j), y = pb_load32(b + j);
        acc = pb_smlad(pb_sxtb16_hi(x), pb_sxtb16_hi(y), pb_smlad(pb_sxtb16(x), pb_sxtb16(y), acc));
    }
    for (; j < n; ++j) {
        acc = (int32_t)((uint32_t)acc + (uint32_t)(a[j] * b[j]));
    }
    return acc;
}

static int32_t pb_svdf_dot_s16(const int16_t *a, const int16_t *b, int32_t n, int32_t acc)
{
    int32_t j;
    for (j = 0; j + 2 <= n; j += 2) {
        acc = pb_smlad(pb_load32(a + j), pb_load32(b + j), acc);
    }
    if (j < n) {
        acc = (int32_t)((uint32_t)acc + (uint32_t)((int32_t)a[j] * b[j]));
    }
    return acc;
}

static int8_t pb_svdf_output(const pb_fast_svdf_params_t *p, uint32_t acc)
{
    return (int8_t)pb_lstm_sat8(pb_lstm_requant((int32_t)acc, p->output_mult, p->output_shift, p->fast) +
                                p->output_zp);
}

void pb_fast_svdf_s8(const pb_fast_svdf_params_t *p, const int8_t *input, const int8_t *state, int8_t *output)
{
    int8_t *s = (int8_t *)state;
    const int32_t per_batch = p->filters * p->memory, n = p->rank * p->memory;
    int32_t b, u;
    memmove(s, s + 1, (size_t)(p->batches * per_batch - 1));
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->input_size;
        int8_t *sb = s + b * per_batch;
        PB_SVDF_FEATURES(int8_t, pb_lstm_sat8);
        for (u = 0; u < p->units; ++u) {
            const int32_t acc = pb_svdf_dot_s8(p->w_time + u * n, sb + u * n, n, p->unit_bias[u]);
            output[b * p->units + u] = pb_svdf_output(p, (uint32_t)acc);
        }
    }
}

void pb_fast_svdf_s8_s16(const pb_fast_svdf_params_t *p, const int8_t *input, const int16_t *state, int8_t *output)
{
    int16_t *s = (int16_t *)state;
    const int32_t per_batch = p->filters * p->memory, n = p->rank * p->memory;
    int32_t b, u;
    memmove(s, s + 1, (size_t)(p->batches * per_batch - 1) * sizeof(int16_t));
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->input_size;
        int16_t *sb = s + b * per_batch;
        PB_SVDF_FEATURES(int16_t, pb_lstm_sat16);
        for (u = 0; u < p->units; ++u) {
            const int32_t acc = pb_svdf_dot_s16(p->w_time16 + u * n, sb + u * n, n, p->unit_bias[u]);
            output[b * p->units + u] = pb_svdf_output(p, (uint32_t)acc);
        }
    }
}
