/* SVDF, DSP tier (see pb_svdf.h): the fast tiers' kernel (pb_fast_recurrent.h) over this
 * tier's dot products. */
#include "pb_svdf.h"

#include "pb_lstm.h"

/* acc + the dot product of n int8 (or int16) values of a and b, any alignment: SMLAD on
 * int16 pairs, the last values one by one. */
static PB_ALWAYS_INLINE int32_t pb_dsp_svdf_dot_s8(const int8_t *a, const int8_t *b, int32_t n, int32_t acc)
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

static PB_ALWAYS_INLINE int32_t pb_dsp_svdf_dot_s16(const int16_t *a, const int16_t *b, int32_t n, int32_t acc)
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

void pb_fast_svdf_s8(const pb_fast_svdf_params_t *p, const int8_t *input, const int8_t *state, int8_t *output)
{
    if (p->wide) {
        pb_fast_svdf_s8_with(p, input, state, output, pb_dsp_dot4_wide, pb_dsp_svdf_dot_s8);
    } else {
        pb_fast_svdf_s8_with(p, input, state, output, pb_dsp_dot4, pb_dsp_svdf_dot_s8);
    }
}

void pb_fast_svdf_s8_s16(const pb_fast_svdf_params_t *p, const int8_t *input, const int16_t *state, int8_t *output)
{
    if (p->wide) {
        pb_fast_svdf_s8_s16_with(p, input, state, output, pb_dsp_dot4_wide, pb_dsp_svdf_dot_s16);
    } else {
        pb_fast_svdf_s8_s16_with(p, input, state, output, pb_dsp_dot4, pb_dsp_svdf_dot_s16);
    }
}
