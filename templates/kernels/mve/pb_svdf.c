/* SVDF, Helium tier (see pb_svdf.h): the fast tiers' kernel (pb_fast_recurrent.h) over this
 * tier's dot products. */
#include "pb_svdf.h"

#include "pb_lstm.h"

#if !defined(__ARM_FEATURE_MVE)
#error "this model was generated for the Helium (MVE) tier: compile with -mcpu=cortex-m55, or regenerate it for this core's board"
#endif

/* acc + the dot product of n int8 (or int16) values of a and b: VMLADAVA, the last
 * vector under a tail predicate. */
static inline __attribute__((always_inline)) int32_t pb_mve_svdf_dot_s8(const int8_t *a, const int8_t *b, int32_t n,
                                                                        int32_t acc)
{
    int32_t j;
    for (j = 0; j < n; j += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n - j));
        acc = vmladavaq_s8(acc, vldrbq_z_s8(a + j, pr), vldrbq_z_s8(b + j, pr));
    }
    return acc;
}

static inline __attribute__((always_inline)) int32_t pb_mve_svdf_dot_s16(const int16_t *a, const int16_t *b, int32_t n,
                                                                         int32_t acc)
{
    int32_t j;
    for (j = 0; j < n; j += 8) {
        const mve_pred16_t pr = vctp16q((uint32_t)(n - j));
        acc = vmladavaq_s16(acc, vldrhq_z_s16(a + j, pr), vldrhq_z_s16(b + j, pr));
    }
    return acc;
}

void pb_fast_mve_svdf_s8(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int8_t *state,
                         int8_t *output)
{
    pb_fast_svdf_s8_with(p, input, state, output, pb_mve_dot4, pb_mve_svdf_dot_s8);
}

void pb_fast_mve_svdf_s8_s16(const pb_fast_mve_svdf_params_t *p, const int8_t *input, const int16_t *state,
                             int8_t *output)
{
    pb_fast_svdf_s8_s16_with(p, input, state, output, pb_mve_dot4, pb_mve_svdf_dot_s16);
}
