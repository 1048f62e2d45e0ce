/* SVDF, Helium tier (see pb_svdf.h). */
#include "pb_svdf.h"

#include <string.h>

#include "pb_lstm.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif

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
            pb_mve_dot4(x, p->input_size, p->w_feature + f_ * p->input_words, p->input_words, acc_); \
            for (k_ = 0; k_ < 4 && f_ + k_ < p->filters; ++k_) {                                   \
                const int32_t v_ = pb_lstm_requant(acc_[k_], p->feature_mult, p->feature_shift, p->fast); \
                sb[(f_ + k_) * p->memory + p->memory - 1] = (T)(p->state_zp + SAT(v_));            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* acc + the dot product of n int8 (or int16) values of a and b: VMLADAVA, the last
 * vector under a tail predicate. */
static int32_t pb_svdf_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
{
    int32_t j;
    for (j = 0; j < n; j += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n - j));
        acc = vmladavaq_s8(acc, vldrbq_z_s8(a + j, pr), vldrbq_z_s8(b + j, pr));
    }
    return acc;
}

static int32_t pb_svdf_dot_s16(const int16_t *a, const int16_t *b, int32_t n, int32_t acc)
{
    int32_t j;
    for (j = 0; j < n; j += 8) {
        const mve_pred16_t pr = vctp16q((uint32_t)(n - j));
        acc = vmladavaq_s16(acc, vldrhq_z_s16(a + j, pr), vldrhq_z_s16(b + j, pr));
    }
    return acc;
}

static int8_t pb_svdf_output(const pb_fast_mve_svdf_params_t *p, uint32_t acc)
{
    return (int8_t)pb_lstm_sat8(pb_lstm_requant((int32_t)acc, p->output_mult, p->output_shift, p->fast) +
                                p->output_zp);
}

void pb_fast_mve_svdf_s8(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int8_t *state,
                         int8_t *output)
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

void pb_fast_mve_svdf_s8_s16(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int16_t *state,
                             int8_t *output)
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
